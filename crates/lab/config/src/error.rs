//! The crate's one error type.

use std::fmt;

/// One bad field: its path in the document and what is wrong with it, worded like the
/// Kubernetes API server's field errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `networking.podSubnet`, `nodes[1].role`; empty for the document itself.
    pub path: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cluster config is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// Every bad field found, in document order.
    #[error("invalid cluster config: {}", join(.0))]
    Invalid(Vec<FieldError>),
}

// === impl FieldError ===

impl FieldError {
    pub fn new(path: &str, message: impl Into<String>) -> Self {
        FieldError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn join(errors: &[FieldError]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    all.join("; ")
}
