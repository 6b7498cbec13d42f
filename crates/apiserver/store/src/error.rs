use crate::key::ObjectKey;

/// Everything the store can refuse or fail at. The server maps each variant onto the
/// Kubernetes `Status` reason of the same name.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{key} not found")]
    NotFound { key: ObjectKey },

    #[error("{key} already exists")]
    AlreadyExists { key: ObjectKey },

    /// Optimistic concurrency or a delete precondition failed.
    #[error("operation cannot be fulfilled on {key}: {message}")]
    Conflict { key: ObjectKey, message: String },

    /// The watch asked for a resourceVersion older than the history still holds.
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },

    #[error("metadata.name: Required value: name or generateName is required")]
    NameRequired,

    #[error("unable to parse requirement: {0}")]
    Selector(String),

    #[error("state directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("state directory {path}: corrupt snapshot: {message}")]
    Corrupt {
        path: std::path::PathBuf,
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
