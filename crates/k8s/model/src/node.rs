//! Nodes as routing needs them: a name, the address other nodes reach it at, its pod CIDRs.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Node;

use crate::error::{Error, Result};

/// The address a node is reached at on the node network (its `InternalIP`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIp(pub IpAddr);

/// What routing needs to know about one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRoute {
    pub name: String,
    /// The first `InternalIP` of `status.addresses`, IPv4 preferred; `None` until the node
    /// reports one.
    pub node_ip: Option<NodeIp>,
    /// `spec.podCIDRs` (or the older single `spec.podCIDR`); empty until node IPAM has given
    /// the node a range.
    pub pod_cidrs: Vec<IpNet>,
}

/// Upstream's well-known label: a node carrying it, whatever its value, takes no
/// LoadBalancer traffic. The service controller leaves it out of cloud load balancers'
/// backends and MetalLB does not announce from it; podnet's L2 announcer and BGP speaker
/// neither.
pub const EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS: &str =
    "node.kubernetes.io/exclude-from-external-load-balancers";

/// Whether `node` is excluded from external load balancers (the label is present).
pub fn excluded_from_external_load_balancers(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS))
}

// === impl NodeIp ===

impl fmt::Display for NodeIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// === impl NodeRoute ===

impl NodeRoute {
    /// Normalises a Node. A malformed address or CIDR is an error naming the field; missing
    /// ones are not (a node gets its pod CIDR and reports its address some time after it
    /// is created).
    pub fn from_node(node: &Node) -> Result<Self> {
        let name = node
            .metadata
            .name
            .clone()
            .ok_or(Error::Unnamed { kind: "Node" })?;
        let spec = node.spec.as_ref();
        let cidrs: Vec<(String, &String)> = match spec.and_then(|s| s.pod_cidrs.as_ref()) {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("spec.podCIDRs[{i}]"), c))
                .collect(),
            _ => spec
                .and_then(|s| s.pod_cidr.as_ref())
                .map(|c| ("spec.podCIDR".to_owned(), c))
                .into_iter()
                .collect(),
        };
        let mut pod_cidrs = Vec::with_capacity(cidrs.len());
        for (field, value) in cidrs {
            let net: IpNet = value
                .parse()
                .map_err(|_| invalid(&name, &field, value, "a CIDR"))?;
            // The API server accepts only canonical CIDRs; anything else is refused here too,
            // so a host address never becomes a route.
            if net.trunc() != net {
                return Err(invalid(&name, &field, value, "a canonical CIDR"));
            }
            pod_cidrs.push(net);
        }
        let mut internal = Vec::new();
        let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref());
        for (i, a) in addresses.into_iter().flatten().enumerate() {
            if a.type_ != "InternalIP" {
                continue;
            }
            let ip: IpAddr = a.address.parse().map_err(|_| {
                invalid(
                    &name,
                    &format!("status.addresses[{i}].address"),
                    &a.address,
                    "an IP address",
                )
            })?;
            internal.push(ip);
        }
        let node_ip = internal
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(internal.first())
            .copied()
            .map(NodeIp);
        Ok(Self {
            name,
            node_ip,
            pod_cidrs,
        })
    }
}

fn invalid(name: &str, field: &str, value: &str, want: &'static str) -> Error {
    Error::Invalid {
        kind: "Node",
        name: name.to_owned(),
        field: field.to_owned(),
        value: value.to_owned(),
        want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_exclude_label_excludes_whatever_its_value() {
        let with = |labels: serde_json::Value| {
            excluded_from_external_load_balancers(&node(
                json!({"metadata": {"name": "n", "labels": labels}}),
            ))
        };
        assert!(with(json!({EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS: ""})));
        assert!(with(json!({EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS: "false"})));
        assert!(!with(json!({"node.kubernetes.io/other": "true"})));
        assert!(!excluded_from_external_load_balancers(&node(
            json!({"metadata": {"name": "n"}})
        )));
    }

    #[test]
    fn internal_ip_and_pod_cidrs() {
        let n = node(json!({"metadata": {"name": "node-1"},
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:1::/64"]},
            "status": {"addresses": [
                {"type": "Hostname", "address": "node-1"},
                {"type": "InternalIP", "address": "fd12::2"},
                {"type": "InternalIP", "address": "172.18.0.2"}]}}));
        let r = NodeRoute::from_node(&n).unwrap();
        assert_eq!(r.name, "node-1");
        assert_eq!(
            r.node_ip,
            Some(NodeIp("172.18.0.2".parse().unwrap())),
            "IPv4 preferred"
        );
        assert_eq!(
            r.pod_cidrs,
            vec![
                "10.244.1.0/24".parse::<IpNet>().unwrap(),
                "fd00:1::/64".parse().unwrap()
            ]
        );
    }

    #[test]
    fn single_pod_cidr_when_the_list_is_absent() {
        let n = node(json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.7.0/24"}}));
        let r = NodeRoute::from_node(&n).unwrap();
        assert_eq!(r.pod_cidrs, vec!["10.244.7.0/24".parse::<IpNet>().unwrap()]);
        assert_eq!(r.node_ip, None);
    }

    #[test]
    fn a_node_without_cidr_or_address_is_not_an_error() {
        let r = NodeRoute::from_node(&node(json!({"metadata": {"name": "new"}}))).unwrap();
        assert!(r.pod_cidrs.is_empty());
        assert_eq!(r.node_ip, None);
    }

    #[test]
    fn malformed_fields_are_named() {
        let bad_cidr =
            node(json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.244.1.0/33"]}}));
        assert_eq!(
            NodeRoute::from_node(&bad_cidr).unwrap_err().to_string(),
            r#"Node "n": spec.podCIDRs[0]: "10.244.1.0/33" is not a CIDR"#
        );
        let host_bits =
            node(json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.244.1.5/24"}}));
        assert_eq!(
            NodeRoute::from_node(&host_bits).unwrap_err().to_string(),
            r#"Node "n": spec.podCIDR: "10.244.1.5/24" is not a canonical CIDR"#
        );
        let bad_ip = node(json!({"metadata": {"name": "n"}, "status": {"addresses": [
            {"type": "InternalIP", "address": "172.18.0.300"}]}}));
        assert_eq!(
            NodeRoute::from_node(&bad_ip).unwrap_err().to_string(),
            r#"Node "n": status.addresses[0].address: "172.18.0.300" is not an IP address"#
        );
    }
}
