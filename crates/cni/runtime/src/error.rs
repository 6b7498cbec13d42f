use std::fmt;
use std::path::PathBuf;

use podnet_cni_spec::{CniError, CniVersion, ErrorCode};

/// The CNI verbs a runtime sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Add,
    Check,
    Del,
    Gc,
    Status,
    Version,
}

// === impl Verb ===

impl Verb {
    /// The value of `CNI_COMMAND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Add => "ADD",
            Verb::Check => "CHECK",
            Verb::Del => "DEL",
            Verb::Gc => "GC",
            Verb::Status => "STATUS",
            Verb::Version => "VERSION",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can go wrong between a runtime and its plugins. Plugin failures keep the
/// plugin's own CNI error (code, msg, details) as the source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading network config {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("network config {}: {source}", path.display())]
    Config {
        path: PathBuf,
        #[source]
        source: CniError,
    },

    #[error("no network config named {name:?} in {}", dir.display())]
    NotFound { dir: PathBuf, name: String },

    /// The attachment itself is unusable (container id, interface name).
    #[error("network {network:?}: {verb}: {source}")]
    Attachment {
        network: String,
        verb: Verb,
        #[source]
        source: CniError,
    },

    /// Plugin number `index` (0-based, in list order) failed.
    #[error(
        "network {network:?}: plugin {index} (type {plugin_type:?}) failed on {verb}: {source}"
    )]
    Plugin {
        network: String,
        index: usize,
        plugin_type: String,
        verb: Verb,
        #[source]
        source: CniError,
    },

    #[error("network {network:?}: result cache {}: {source}", path.display())]
    Cache {
        network: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("network {network:?}: {verb} needs cniVersion {needs} or later, the list is {version}")]
    Unsupported {
        network: String,
        verb: Verb,
        version: CniVersion,
        needs: CniVersion,
    },

    /// GC's synthesized DEL of one stale attachment failed.
    #[error("network {network:?}: deleting stale attachment {container_id}/{ifname}: {source}")]
    Stale {
        network: String,
        container_id: String,
        ifname: String,
        #[source]
        source: Box<Error>,
    },

    /// GC goes on past failures (one stale attachment must not keep the others); all of
    /// them are reported.
    #[error("network {network:?}: GC failed: {}", join(errors))]
    Gc { network: String, errors: Vec<Error> },
}

fn join(errors: &[Error]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// === impl Error ===

impl Error {
    /// The CNI error behind this one, if a plugin or the spec's rules produced it.
    pub fn cni_error(&self) -> Option<&CniError> {
        match self {
            Error::Config { source, .. }
            | Error::Attachment { source, .. }
            | Error::Plugin { source, .. } => Some(source),
            Error::Stale { source, .. } => source.cni_error(),
            Error::Gc { errors, .. } => errors.iter().find_map(Error::cni_error),
            _ => None,
        }
    }

    /// The CNI error code, for callers that branch on it (11: try again later).
    pub fn code(&self) -> Option<ErrorCode> {
        self.cni_error().map(|e| e.code)
    }
}
