//! Allocation errors, and the field errors a 422 Invalid Status is built from.

use std::fmt;

use serde_json::Value;

/// Why one value could not be allocated. The messages are the real API server's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    #[error("provided IP is already allocated")]
    IpAllocated,
    #[error("the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}")]
    IpNotInRange { ip: String, range: String },
    #[error("range is full")]
    Full,
    #[error("provided port is already allocated")]
    PortAllocated,
    #[error("provided port is not in the valid range. The range of valid ports is {range}")]
    PortNotInRange { range: String },
}

/// One cause of a 422 Invalid: `spec.ports[0].nodePort: Invalid value: 30080: provided port
/// is already allocated`. `value` is what the client sent at `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub path: String,
    pub value: Value,
    pub detail: String,
}

// === impl FieldError ===

impl FieldError {
    pub fn invalid(path: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            value,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: Invalid value: {}: {}",
            self.path, self.value, self.detail
        )
    }
}
