use std::net::SocketAddr;
use std::path::PathBuf;

/// What can go wrong running the name server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Corefile that cannot be used, with the line and the directive at fault.
    #[error("Corefile line {line}: {directive}: {reason}")]
    Corefile {
        line: usize,
        directive: String,
        reason: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("binding {proto} {addr}: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("starting the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
    #[error("objects file {path}: {reason}")]
    Objects { path: PathBuf, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
