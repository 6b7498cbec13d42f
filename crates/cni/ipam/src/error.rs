//! The crate's one error type, and how each kind maps onto the CNI error codes.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

use podnet_cni_spec::{CniError, ErrorCode};

/// Plugin-specific code: a requested address is taken, or is one a range never hands out.
pub const ADDRESS_UNAVAILABLE: ErrorCode = ErrorCode(110);
/// Plugin-specific code: an ADD found no free address in a range set.
pub const RANGE_EXHAUSTED: ErrorCode = ErrorCode(111);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `ipam` section (or a requested address) is invalid; `field` is its JSON path.
    #[error("{field}: {msg}")]
    Config { field: String, msg: String },

    /// The config could not be decoded at all (already a spec error naming the path).
    #[error(transparent)]
    Decode(#[from] CniError),

    #[error("{op} {path}: {source}", path = path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{set}: no address left to hand out in {ranges}")]
    Exhausted { set: String, ranges: String },

    #[error("requested IP {ip} ({source_field}): {reason}")]
    Unavailable {
        ip: IpAddr,
        source_field: String,
        reason: String,
    },

    #[error("container {container_id:?} interface {ifname:?} holds no address in {set}")]
    NotAttached {
        container_id: String,
        ifname: String,
        set: String,
    },
}

// === impl Error ===

impl Error {
    pub(crate) fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Config { .. } => ErrorCode::INVALID_NETWORK_CONFIG,
            Error::Decode(e) => e.code,
            Error::Io { .. } => ErrorCode::IO_FAILURE,
            Error::Exhausted { .. } => RANGE_EXHAUSTED,
            Error::Unavailable { .. } => ADDRESS_UNAVAILABLE,
            Error::NotAttached { .. } => ErrorCode::UNKNOWN_CONTAINER,
        }
    }
}

impl From<Error> for CniError {
    fn from(e: Error) -> Self {
        match e {
            Error::Decode(e) => e,
            other => CniError::new(other.code(), other.to_string()),
        }
    }
}
