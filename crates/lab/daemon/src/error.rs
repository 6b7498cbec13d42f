//! The crate's one error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: podnet_lab_config::ConfigError,
    },
    #[error("lab {name:?}: another daemon is already running for it (pid {pid:?})")]
    AlreadyRunning { name: String, pid: Option<i32> },
    #[error("binding the API server to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: bad content {content:?}")]
    Corrupt { path: PathBuf, content: String },
    #[error(transparent)]
    Serve(#[from] podnet_apiserver::ServeError),
    #[error("the lab's CA and certificates: {0}")]
    Pki(String),
    #[error("the lab's API client: {0}")]
    Client(String),
    #[error("building the lab's network: {0}")]
    Topology(#[from] podnet_lab_topology::Error),
    #[error(
        "{path} is missing (package {package}): the lab runs it; scripts/install-deps.sh \
         installs everything the lab needs"
    )]
    MissingBinary {
        path: PathBuf,
        package: &'static str,
    },
    #[error(
        "networking.ipFamily: {family}: the lab's node network is IPv4 (172.18.0.0/16); \
         ipv6 and dual-stack labs are not supported yet"
    )]
    UnsupportedFamily { family: String },
}

// === impl DaemonError ===

impl DaemonError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| DaemonError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
