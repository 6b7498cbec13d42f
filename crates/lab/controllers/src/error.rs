//! The crate's one error type.

/// What stops a controller or fails one reconcile (retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{what} {name}: {source}")]
    Object {
        what: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cluster config: {0}")]
    Config(String),
    #[error("controller {controller} stopped: {reason}")]
    Stopped {
        controller: &'static str,
        reason: String,
    },
}

// === impl Error ===

impl Error {
    /// Wraps a failed API call on one object, naming it.
    pub fn on(what: &'static str, name: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let name = name.into();
        move |source| Error::Object { what, name, source }
    }
}

/// True for a 404 from the API (the object is already gone).
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// True for a 409 (AlreadyExists, or a stale resourceVersion).
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
