//! The kubelet's one error type. Messages name the pod (or node) and what was being done.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {what}: {source}")]
    Api {
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("pod {pod}: {op}: {source}")]
    Sys {
        pod: String,
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("pod {pod}: network setup (CNI {verb}): {source}")]
    Cni {
        pod: String,
        verb: &'static str,
        #[source]
        source: Box<podnet_cni_runtime::Error>,
    },
    #[error("network configuration in {dir}: {reason}")]
    NetworkConfig { dir: PathBuf, reason: String },
    #[error("pod {pod}: container {container}: {reason}")]
    Container {
        pod: String,
        container: String,
        reason: String,
    },
    #[error("network namespace: {0}")]
    Netns(#[from] podnet_netns::Error),
    /// `logs --previous` of a container that has not been restarted (the kubelet's words).
    #[error("previous terminated container {container:?} in pod {pod:?} not found")]
    NoPreviousLog { pod: String, container: String },
    /// A container that has not started yet, so has no log file.
    #[error("container {container:?} in pod {pod:?} has no log yet")]
    NoLog { pod: String, container: String },
    #[error("state file {path}: {source}")]
    State {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

// === impl Error ===

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            op,
            source,
        }
    }

    pub(crate) fn api(what: impl Into<String>, source: kube::Error) -> Self {
        Self::Api {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

/// True for 404 Not Found answers.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// True for 409 Conflict answers (AlreadyExists, stale resourceVersion).
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
