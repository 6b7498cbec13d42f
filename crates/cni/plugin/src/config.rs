//! The bridge plugin's own configuration keys, with the reference bridge plugin's names and
//! meaning. Decoded from the same bytes as the common keys, so errors keep their JSON path.

use podnet_base::IfName;
use podnet_cni_spec::{CniError, ErrorCode, decode};
use serde::Deserialize;
use serde_json::Value;

/// The bridge used when the config names none, as in the reference plugin.
pub const DEFAULT_BRIDGE: &str = "cni0";

/// IPv4's minimum MTU; the kernel refuses less on an interface carrying IPv4.
const MIN_MTU: u32 = 68;
const MAX_MTU: u32 = 65535;

#[derive(Clone, Debug)]
pub struct BridgeConf {
    pub bridge: IfName,
    /// Give the bridge the gateway address of each IPAM range.
    pub is_gateway: bool,
    /// Also route the pod's default route through that gateway (implies `is_gateway`).
    pub is_default_gateway: bool,
    /// Replace a conflicting address on the bridge instead of failing.
    pub force_address: bool,
    /// Masquerade pod traffic that leaves the pod's subnet.
    pub ip_masq: bool,
    pub mtu: Option<u32>,
    pub hairpin_mode: bool,
    pub promisc_mode: bool,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(default)]
    bridge: Option<String>,
    #[serde(rename = "isGateway", default)]
    is_gateway: bool,
    #[serde(rename = "isDefaultGateway", default)]
    is_default_gateway: bool,
    #[serde(rename = "forceAddress", default)]
    force_address: bool,
    #[serde(rename = "ipMasq", default)]
    ip_masq: bool,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(rename = "hairpinMode", default)]
    hairpin_mode: bool,
    #[serde(rename = "promiscMode", default)]
    promisc_mode: bool,
}

/// Whether a key's value means the feature is off.
type IsOff = fn(&Value) -> bool;

/// Keys of the reference bridge plugin that podnet-cni does not implement, with the value
/// that means "off". Set to anything else they are refused (the spec's code 2) rather than
/// silently ignored: a config that asks for VLAN isolation must not get a flat network.
const UNSUPPORTED_KEYS: &[(&str, IsOff)] = &[
    ("vlan", |v| v.as_u64() == Some(0)),
    ("vlanTrunk", |v| v.as_array().is_some_and(Vec::is_empty)),
    ("macspoofchk", |v| v == &Value::Bool(false)),
    ("enabledad", |v| v == &Value::Bool(false)),
    ("disableContainerInterface", |v| v == &Value::Bool(false)),
    ("portIsolation", |v| v == &Value::Bool(false)),
];

// === impl BridgeConf ===

impl BridgeConf {
    pub fn decode(stdin: &[u8]) -> Result<Self, CniError> {
        let raw: Raw = decode::json(stdin, "network config")?;
        refuse_unsupported(stdin)?;
        let bridge = match raw.bridge.as_deref() {
            None | Some("") => {
                IfName::new(DEFAULT_BRIDGE).expect("the default bridge name is valid")
            }
            Some(name) => IfName::new(name).map_err(|e| {
                CniError::invalid_config(format!("network config: field \"bridge\": {e}"))
            })?,
        };
        if let Some(mtu) = raw.mtu
            && !(MIN_MTU..=MAX_MTU).contains(&mtu)
        {
            return Err(CniError::invalid_config(format!(
                "network config: field \"mtu\": {mtu} is out of range, \
                 must be between {MIN_MTU} and {MAX_MTU}"
            )));
        }
        // A promiscuous bridge already sends a port's frames back to it: hairpin on top
        // would deliver them twice. The reference plugin refuses the combination too.
        if raw.hairpin_mode && raw.promisc_mode {
            return Err(CniError::invalid_config(
                "network config: fields \"hairpinMode\" and \"promiscMode\" cannot both be true",
            ));
        }
        Ok(Self {
            bridge,
            is_gateway: raw.is_gateway || raw.is_default_gateway,
            is_default_gateway: raw.is_default_gateway,
            force_address: raw.force_address,
            ip_masq: raw.ip_masq,
            mtu: raw.mtu,
            hairpin_mode: raw.hairpin_mode,
            promisc_mode: raw.promisc_mode,
        })
    }
}

fn refuse_unsupported(stdin: &[u8]) -> Result<(), CniError> {
    let doc: Value = decode::json(stdin, "network config")?;
    for (key, is_off) in UNSUPPORTED_KEYS {
        if let Some(value) = doc.get(*key).filter(|v| !v.is_null() && !is_off(v)) {
            return Err(CniError::new(
                ErrorCode::UNSUPPORTED_FIELD,
                format!(
                    "network config: field {key:?} = {value} is not supported by podnet-cni \
                     (remove it, or use the reference bridge plugin for this network)"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_cni_spec::ErrorCode;

    #[test]
    fn defaults_follow_the_reference_plugin() {
        let c = BridgeConf::decode(br#"{"cniVersion":"1.1.0","name":"n","type":"podnet-cni"}"#)
            .unwrap();
        assert_eq!(c.bridge.as_str(), "cni0");
        assert!(!c.is_gateway && !c.ip_masq && !c.hairpin_mode && c.mtu.is_none());
    }

    #[test]
    fn default_gateway_implies_gateway() {
        let c =
            BridgeConf::decode(br#"{"isDefaultGateway":true,"bridge":"br0","mtu":1400}"#).unwrap();
        assert!(c.is_gateway && c.is_default_gateway);
        assert_eq!(c.mtu, Some(1400));
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = BridgeConf::decode(br#"{"mtu":40}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_NETWORK_CONFIG);
        assert!(err.msg.contains("\"mtu\""), "{}", err.msg);
        let err = BridgeConf::decode(br#"{"bridge":"a-bridge-name-too-long"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_NETWORK_CONFIG);
        assert!(err.msg.contains("\"bridge\""), "{}", err.msg);
        let err = BridgeConf::decode(br#"{"hairpinMode":true,"promiscMode":true}"#).unwrap_err();
        assert!(err.msg.contains("\"promiscMode\""), "{}", err.msg);
        let err = BridgeConf::decode(br#"{"hairpinMode":"yes"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::DECODE_FAILURE);
        assert!(err.msg.contains("\"hairpinMode\""), "{}", err.msg);
    }

    #[test]
    fn unimplemented_reference_keys_are_refused_with_code_2() {
        let err = BridgeConf::decode(br#"{"vlan":100}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::UNSUPPORTED_FIELD);
        assert!(err.msg.contains("\"vlan\" = 100"), "{}", err.msg);
        let err = BridgeConf::decode(br#"{"macspoofchk":true}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::UNSUPPORTED_FIELD);
        // Their "off" values are accepted: configs written for the reference plugin work.
        BridgeConf::decode(
            br#"{"vlan":0,"vlanTrunk":[],"macspoofchk":false,"enabledad":false,"preserveDefaultVlan":true}"#,
        )
        .unwrap();
    }

    #[test]
    fn wrong_types_are_decode_failures() {
        let err = BridgeConf::decode(br#"{"hairpinMode":"yes"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::DECODE_FAILURE);
        assert!(err.msg.contains("\"hairpinMode\""), "{}", err.msg);
    }
}
