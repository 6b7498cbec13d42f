//! The spec's error result: `{"cniVersion", "code", "msg", "details"}` on stdout, with a
//! non-zero exit status. Codes 1–99 are reserved by the spec; 100+ are plugin-specific.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const INCOMPATIBLE_VERSION: ErrorCode = ErrorCode(1);
    pub const UNSUPPORTED_FIELD: ErrorCode = ErrorCode(2);
    pub const UNKNOWN_CONTAINER: ErrorCode = ErrorCode(3);
    pub const INVALID_ENVIRONMENT: ErrorCode = ErrorCode(4);
    pub const IO_FAILURE: ErrorCode = ErrorCode(5);
    pub const DECODE_FAILURE: ErrorCode = ErrorCode(6);
    pub const INVALID_NETWORK_CONFIG: ErrorCode = ErrorCode(7);
    pub const TRY_AGAIN_LATER: ErrorCode = ErrorCode(11);
    /// STATUS: the plugin cannot serve any ADD (for IPAM: no address left).
    pub const PLUGIN_NOT_AVAILABLE: ErrorCode = ErrorCode(50);
    /// STATUS: the plugin can serve ADDs, but with limited connectivity.
    pub const LIMITED_CONNECTIVITY: ErrorCode = ErrorCode(51);
    /// Plugin-specific: a kernel (netlink, sysctl) operation failed.
    pub const KERNEL: ErrorCode = ErrorCode(100);
    /// Plugin-specific: a delegated plugin could not be run or answered nonsense.
    pub const DELEGATE: ErrorCode = ErrorCode(101);
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct CniError {
    pub code: ErrorCode,
    pub msg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    pub fn invalid_config(msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_NETWORK_CONFIG, msg)
    }

    pub fn invalid_env(msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_ENVIRONMENT, msg)
    }

    pub fn io(msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::IO_FAILURE, msg)
    }

    pub fn kernel(msg: impl Into<String>) -> Self {
        Self::new(ErrorCode::KERNEL, msg)
    }

    /// The error document as the spec lays it out, in the caller's version.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a CniError always serializes");
        v["cniVersion"] = serde_json::Value::String(cni_version.to_owned());
        v
    }
}

impl fmt::Display for CniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.msg, self.code.0)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_the_spec_shape() {
        let e = CniError::invalid_config("field \"mtu\": must be at least 68").with_details("x");
        assert_eq!(
            e.to_json("1.1.0"),
            serde_json::json!({"cniVersion":"1.1.0","code":7,"msg":"field \"mtu\": must be at least 68","details":"x"})
        );
    }

    #[test]
    fn empty_details_are_omitted() {
        let v = CniError::new(ErrorCode::TRY_AGAIN_LATER, "busy").to_json("1.0.0");
        assert!(v.get("details").is_none());
        assert_eq!(v["code"], 11);
    }
}
