//! The ADD result. One model — the 1.1.0 one — rendered in the caller's version: before
//! 1.0.0 each IP carries `"version"`, before 1.1.0 the interface and route attributes that
//! 1.1.0 added are dropped. Parsing accepts any of those formats (a `prevResult` may come
//! from an older plugin).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::version::CniVersion;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CniResult {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Dns::is_empty")]
    pub dns: Dns,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The netns path for an interface inside the container; absent for host interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    #[serde(
        rename = "socketPath",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub socket_path: Option<String>,
    #[serde(rename = "pciID", default, skip_serializing_if = "Option::is_none")]
    pub pci_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpConfig {
    /// Index into `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<usize>,
    /// The address with its prefix length, host bits kept (`10.244.1.5/24`).
    pub address: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub dst: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gw: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advmss: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u8>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dns {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

// === impl Route ===

impl Route {
    pub fn new(dst: IpNet, gw: Option<IpAddr>) -> Self {
        Self {
            dst,
            gw,
            mtu: None,
            advmss: None,
            priority: None,
            table: None,
            scope: None,
        }
    }
}

// === impl Dns ===

impl Dns {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty()
            && self.domain.is_none()
            && self.search.is_empty()
            && self.options.is_empty()
    }
}

// === impl CniResult ===

impl CniResult {
    /// The result document in `version`'s format, `cniVersion` included.
    pub fn to_json(&self, version: CniVersion) -> Value {
        let mut doc = serde_json::to_value(self).expect("a CniResult always serializes");
        if version < CniVersion::V1_1_0 {
            // `get_mut`, not indexing: indexing would insert `null` for an absent list.
            strip_keys(doc.get_mut("interfaces"), &["mtu", "socketPath", "pciID"]);
            strip_keys(
                doc.get_mut("routes"),
                &["mtu", "advmss", "priority", "table", "scope"],
            );
        }
        if version.ips_carry_version()
            && let Some(ips) = doc.get_mut("ips").and_then(Value::as_array_mut)
        {
            for (ip, cfg) in ips.iter_mut().zip(&self.ips) {
                let family = if cfg.address.addr().is_ipv4() {
                    "4"
                } else {
                    "6"
                };
                ip["version"] = Value::String(family.to_owned());
            }
        }
        let obj = doc.as_object_mut().expect("a result is an object");
        obj.insert("cniVersion".into(), Value::String(version.to_string()));
        // 0.3.x/0.4.0 consumers (and the reference plugins) expect `dns` to be present.
        obj.entry("dns").or_insert_with(|| serde_json::json!({}));
        doc
    }

    /// The index of the first interface that lives in a sandbox (the container side).
    pub fn container_interface(&self) -> Option<usize> {
        self.interfaces.iter().position(|i| i.sandbox.is_some())
    }
}

fn strip_keys(list: Option<&mut Value>, keys: &[&str]) {
    if let Some(items) = list.and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            for k in keys {
                item.remove(*k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    fn sample() -> CniResult {
        CniResult {
            interfaces: vec![
                Interface {
                    name: "cni0".into(),
                    mac: "aa:bb:cc:dd:ee:01".into(),
                    mtu: Some(1500),
                    ..Default::default()
                },
                Interface {
                    name: "eth0".into(),
                    mac: "aa:bb:cc:dd:ee:02".into(),
                    mtu: Some(1500),
                    sandbox: Some("/run/netns/p1".into()),
                    ..Default::default()
                },
            ],
            ips: vec![
                IpConfig {
                    interface: Some(1),
                    address: "10.244.1.5/24".parse().unwrap(),
                    gateway: Some("10.244.1.1".parse().unwrap()),
                },
                IpConfig {
                    interface: Some(1),
                    address: "fd00::5/64".parse().unwrap(),
                    gateway: None,
                },
            ],
            routes: vec![Route {
                mtu: Some(1400),
                ..Route::new("0.0.0.0/0".parse().unwrap(), None)
            }],
            dns: Dns::default(),
        }
    }

    #[test]
    fn v1_1_keeps_new_attributes() {
        let j = sample().to_json(CniVersion::V1_1_0);
        assert_eq!(j["cniVersion"], "1.1.0");
        assert_eq!(j["interfaces"][1]["mtu"], 1500);
        assert_eq!(j["routes"][0]["mtu"], 1400);
        assert!(j["ips"][0].get("version").is_none());
        assert_eq!(j["ips"][0]["address"], "10.244.1.5/24");
    }

    #[test]
    fn v1_0_drops_1_1_attributes() {
        let j = sample().to_json(CniVersion::V1_0_0);
        assert!(j["interfaces"][1].get("mtu").is_none());
        assert!(j["routes"][0].get("mtu").is_none());
        assert!(j["ips"][0].get("version").is_none());
    }

    #[test]
    fn pre_1_0_ips_carry_their_family() {
        for v in [CniVersion::V0_3_0, CniVersion::V0_3_1, CniVersion::V0_4_0] {
            let j = sample().to_json(v);
            assert_eq!(j["ips"][0]["version"], "4");
            assert_eq!(j["ips"][1]["version"], "6");
            assert_eq!(j["dns"], serde_json::json!({}));
        }
    }

    #[test]
    fn absent_lists_stay_absent_in_every_version() {
        let ipam_only = CniResult {
            interfaces: vec![],
            routes: vec![],
            ..sample()
        };
        for v in CniVersion::ALL {
            let j = ipam_only.to_json(v);
            assert!(j.get("interfaces").is_none(), "{v}: {j}");
            assert!(j.get("routes").is_none(), "{v}: {j}");
        }
    }

    #[test]
    fn parses_every_format_back() {
        for v in CniVersion::ALL {
            let j = sample().to_json(v);
            let back: CniResult = decode::value(&j, "result").unwrap();
            assert_eq!(back.ips, sample().ips, "{v}");
            assert_eq!(back.container_interface(), Some(1));
        }
    }

    #[test]
    fn parses_a_reference_plugin_result() {
        // As Debian's host-local 1.1.1 prints it for cniVersion 0.4.0.
        let j = br#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.22.0.2/16","gateway":"10.22.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}"#;
        let r: CniResult = decode::json(j, "result").unwrap();
        assert_eq!(r.ips[0].gateway, Some("10.22.0.1".parse().unwrap()));
        assert_eq!(r.routes[0].gw, None);
    }
}
