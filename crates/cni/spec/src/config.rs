//! Network configuration: what every plugin receives on stdin ([`NetConf`], the keys the spec
//! defines for all plugins) and what a runtime loads from disk ([`NetConfList`]). A plugin
//! decodes its own keys separately, from the same bytes, so each error keeps its JSON path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::args::ValidAttachment;
use crate::decode;
use crate::error::CniError;
use crate::result::{CniResult, Dns};
use crate::version::CniVersion;

/// The keys the spec defines for every plugin's configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NetConf {
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type", default)]
    pub plugin_type: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<String, bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    #[serde(
        rename = "runtimeConfig",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub runtime_config: Option<Value>,
    #[serde(
        rename = "prevResult",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub prev_result: Option<Value>,
    #[serde(
        rename = "cni.dev/valid-attachments",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub valid_attachments: Option<Vec<ValidAttachment>>,
}

// === impl NetConf ===

impl NetConf {
    /// Decodes and validates the common keys; the version must be one podnet speaks.
    pub fn decode(bytes: &[u8]) -> Result<(Self, CniVersion), CniError> {
        let conf: NetConf = decode::json(bytes, "network config")?;
        if conf.cni_version.is_empty() {
            return Err(CniError::invalid_config(
                "network config: field \"cniVersion\" is required",
            ));
        }
        let version = CniVersion::parse(&conf.cni_version)?;
        validate_network_name(&conf.name, "name")?;
        if conf.plugin_type.is_empty() {
            return Err(CniError::invalid_config(
                "network config: field \"type\" is required",
            ));
        }
        Ok((conf, version))
    }

    /// The `type` of the delegated IPAM plugin, if the config has an `ipam` section.
    pub fn ipam_type(&self) -> Result<Option<&str>, CniError> {
        match &self.ipam {
            None => Ok(None),
            Some(ipam) => match ipam.get("type").and_then(Value::as_str) {
                Some(t) if !t.is_empty() => Ok(Some(t)),
                _ => Err(CniError::invalid_config(
                    "network config: field \"ipam.type\" is required when \"ipam\" is set",
                )),
            },
        }
    }

    /// The previous plugin's result, in whatever version it was written.
    pub fn prev_result(&self) -> Result<Option<CniResult>, CniError> {
        self.prev_result
            .as_ref()
            .map(|v| decode::value(v, "prevResult"))
            .transpose()
    }

    /// A named capability argument the runtime passed in `runtimeConfig`.
    pub fn runtime_config_key(&self, key: &str) -> Option<&Value> {
        self.runtime_config.as_ref().and_then(|rc| rc.get(key))
    }
}

/// The spec's rule for network names: an alphanumeric first character, then alphanumerics,
/// `_`, `.` or `-`. The name becomes a directory and a chain name, so this matters.
pub fn validate_network_name(name: &str, field: &str) -> Result<(), CniError> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else if name.is_empty() {
        Err(CniError::invalid_config(format!(
            "network config: field {field:?} is required"
        )))
    } else {
        Err(CniError::invalid_config(format!(
            "network config: field {field:?}: invalid network name {name:?}: \
             must start with a letter or digit, followed by letters, digits, '_', '.' or '-'"
        )))
    }
}

/// A network configuration list (`*.conflist`), as a runtime loads it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NetConfList {
    #[serde(rename = "cniVersion", default)]
    pub cni_version: String,
    #[serde(rename = "cniVersions", default, skip_serializing_if = "Vec::is_empty")]
    pub cni_versions: Vec<String>,
    #[serde(default)]
    pub name: String,
    #[serde(rename = "disableCheck", default)]
    pub disable_check: bool,
    #[serde(rename = "disableGC", default)]
    pub disable_gc: bool,
    #[serde(default)]
    pub plugins: Vec<Value>,
}

impl NetConfList {
    /// Decodes a conflist and picks its protocol version: the highest of `cniVersions`
    /// podnet speaks, else `cniVersion`.
    pub fn decode(bytes: &[u8]) -> Result<(Self, CniVersion), CniError> {
        let list: NetConfList = decode::json(bytes, "network config list")?;
        validate_network_name(&list.name, "name")?;
        let version = if list.cni_versions.is_empty() {
            CniVersion::parse(&list.cni_version)?
        } else {
            CniVersion::negotiate(list.cni_versions.iter().map(String::as_str)).ok_or_else(
                || {
                    CniError::new(
                        crate::ErrorCode::INCOMPATIBLE_VERSION,
                        format!(
                            "network config list {:?}: none of cniVersions {:?} is supported",
                            list.name, list.cni_versions
                        ),
                    )
                },
            )?
        };
        if list.plugins.is_empty() {
            return Err(CniError::invalid_config(format!(
                "network config list {:?}: field \"plugins\" must hold at least one plugin",
                list.name
            )));
        }
        for (i, p) in list.plugins.iter().enumerate() {
            if p.get("type")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(CniError::invalid_config(format!(
                    "network config list {:?}: field \"plugins[{i}].type\" is required",
                    list.name
                )));
            }
        }
        Ok((list, version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn decodes_common_keys() {
        let (c, v) = NetConf::decode(
            br#"{"cniVersion":"1.1.0","name":"pods","type":"podnet-cni","ipam":{"type":"host-local"},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(v, CniVersion::V1_1_0);
        assert_eq!(c.ipam_type().unwrap(), Some("host-local"));
    }

    #[test]
    fn missing_name_is_named() {
        let err = NetConf::decode(br#"{"cniVersion":"1.0.0","type":"x"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_NETWORK_CONFIG);
        assert!(err.msg.contains("\"name\""), "{}", err.msg);
    }

    #[test]
    fn bad_name_is_refused() {
        let err = NetConf::decode(br#"{"cniVersion":"1.0.0","name":"-x","type":"x"}"#).unwrap_err();
        assert!(err.msg.contains("invalid network name"), "{}", err.msg);
    }

    #[test]
    fn ipam_without_type_is_named() {
        let (c, _) =
            NetConf::decode(br#"{"cniVersion":"1.0.0","name":"n","type":"x","ipam":{}}"#).unwrap();
        assert!(c.ipam_type().unwrap_err().msg.contains("ipam.type"));
    }

    #[test]
    fn conflist_negotiates_cni_versions() {
        let (_, v) = NetConfList::decode(
            br#"{"cniVersion":"0.4.0","cniVersions":["1.0.0","1.1.0","2.0.0"],"name":"n","plugins":[{"type":"a"}]}"#,
        )
        .unwrap();
        assert_eq!(v, CniVersion::V1_1_0);
    }

    #[test]
    fn conflist_plugin_without_type_is_named() {
        let err = NetConfList::decode(
            br#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"},{}]}"#,
        )
        .unwrap_err();
        assert!(err.msg.contains("plugins[1].type"), "{}", err.msg);
    }
}
