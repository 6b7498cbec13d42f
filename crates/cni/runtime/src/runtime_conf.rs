use std::path::{Path, PathBuf};

use podnet_base::IfName;
use podnet_cni_invoke::Attachment;
use podnet_cni_spec::{CniArgs, CniError, ErrorCode};
use serde_json::{Map, Value};

/// One attachment of a container to a network: everything about a call except the network
/// configuration (libcni's `RuntimeConf`).
#[derive(Clone, Debug)]
pub struct RuntimeConf {
    pub container_id: String,
    /// The container's network namespace; `None` only where the spec allows it (a DEL of
    /// a container whose namespace is already gone).
    pub netns: Option<PathBuf>,
    pub ifname: IfName,
    /// `CNI_ARGS`, in order.
    pub args: CniArgs,
    /// Capability arguments (`portMappings`, `bandwidth`, `ips`, `mac`, …): each plugin
    /// receives, in `runtimeConfig`, only those it declares in its `capabilities`.
    pub capability_args: Map<String, Value>,
}

// === impl RuntimeConf ===

impl RuntimeConf {
    pub fn new(container_id: impl Into<String>, netns: Option<PathBuf>, ifname: IfName) -> Self {
        Self {
            container_id: container_id.into(),
            netns,
            ifname,
            args: CniArgs::default(),
            capability_args: Map::new(),
        }
    }

    pub fn with_args(mut self, args: CniArgs) -> Self {
        self.args = args;
        self
    }

    pub fn with_capability_args(mut self, caps: Map<String, Value>) -> Self {
        self.capability_args = caps;
        self
    }

    /// libcni's rule for container ids: a letter or digit, then letters, digits, `_`, `.`
    /// or `-`. The id becomes part of a cache file name and of plugins' chain names.
    pub fn validate(&self) -> Result<(), CniError> {
        let id = &self.container_id;
        if id.is_empty() {
            return Err(CniError::new(
                ErrorCode::UNKNOWN_CONTAINER,
                "runtime config: field \"containerID\" is required",
            ));
        }
        let mut chars = id.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if ok {
            Ok(())
        } else {
            Err(CniError::invalid_env(format!(
                "runtime config: field \"containerID\": invalid characters in {id:?}: must \
                 start with a letter or digit, followed by letters, digits, '_', '.' or '-'"
            )))
        }
    }

    /// The invocation environment for a plugin call about this attachment.
    pub(crate) fn attachment(&self, path: &[PathBuf]) -> Attachment {
        Attachment {
            container_id: self.container_id.clone(),
            netns: self.netns.clone(),
            ifname: self.ifname.as_str().to_owned(),
            args: self.args.render(),
            path: path.to_vec(),
        }
    }

    pub(crate) fn netns_str(&self) -> String {
        self.netns
            .as_deref()
            .map(Path::to_string_lossy)
            .unwrap_or_default()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(id: &str) -> RuntimeConf {
        RuntimeConf::new(id, None, IfName::new("eth0").unwrap())
    }

    #[test]
    fn container_ids_follow_libcni_rules() {
        rt("cnitool-0a1b2c").validate().unwrap();
        rt("abc_1.2-3").validate().unwrap();
        assert_eq!(
            rt("").validate().unwrap_err().code,
            ErrorCode::UNKNOWN_CONTAINER
        );
        let err = rt("a/b").validate().unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_ENVIRONMENT);
        assert!(err.msg.contains("\"a/b\""), "{}", err.msg);
        assert!(rt("-x").validate().is_err());
    }
}
