//! Runtime arguments: `CNI_ARGS` (`K=V;K=V`) and the GC verb's list of attachments to keep.

use serde::{Deserialize, Serialize};

use crate::error::{CniError, ErrorCode};

/// `CNI_ARGS`, in order. Kubernetes runtimes pass `IgnoreUnknown=1;K8S_POD_NAMESPACE=…;…`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CniArgs(pub Vec<(String, String)>);

impl CniArgs {
    pub fn parse(raw: &str) -> Result<Self, CniError> {
        let mut out = Vec::new();
        for pair in raw.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                CniError::new(
                    ErrorCode::INVALID_ENVIRONMENT,
                    format!("CNI_ARGS: invalid pair {pair:?}: expected KEY=VALUE"),
                )
            })?;
            out.push((k.to_owned(), v.to_owned()));
        }
        Ok(Self(out))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// One attachment the runtime still uses, as listed in `cni.dev/valid-attachments`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ValidAttachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_args() {
        let a =
            CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0").unwrap();
        assert_eq!(a.get("K8S_POD_NAME"), Some("web-0"));
        assert_eq!(
            a.render(),
            "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"
        );
    }

    #[test]
    fn names_the_bad_pair() {
        let err = CniArgs::parse("A=1;oops").unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_ENVIRONMENT);
        assert!(err.msg.contains("\"oops\""));
    }
}
