//! The Container Network Interface specification as types, free of I/O.
//!
//! - [`version`]: the protocol versions podnet speaks (0.3.0 … 1.1.0) and their negotiation.
//! - [`error`]: the spec's error JSON and its well-known codes.
//! - [`config`]: the network configuration a plugin receives on stdin, and the conflist a
//!   runtime loads.
//! - [`result`]: the ADD result, one model rendered in (and parsed from) every version's format.
//! - [`args`]: `CNI_ARGS` and the GC verb's valid attachments.
//!
//! Every decoding entry point reports the JSON path of the offending field, because
//! "invalid network config" alone sends an operator reading the whole file.

pub mod args;
pub mod config;
pub mod decode;
pub mod error;
pub mod result;
pub mod version;

pub use args::{CniArgs, ValidAttachment};
pub use config::{NetConf, NetConfList};
pub use error::{CniError, ErrorCode};
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
pub use version::{CniVersion, VersionInfo};
