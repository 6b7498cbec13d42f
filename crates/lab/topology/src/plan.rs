//! Names and addresses of one lab's namespaces and links: pure, from the lab's name and the
//! names of its nodes, so that every piece of the lab (daemon, CLI, tests) agrees on them.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::error::{Error, Result};

/// The node network (the underlay), on the fabric's bridge.
pub const NODE_NETWORK: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 18, 0, 0), 16);
/// The fabric's address on the node network: the nodes' gateway, and the API server.
pub const FABRIC_GATEWAY: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 1);
/// The port the API server listens on inside the fabric, as kind's control plane does.
pub const API_PORT: u16 = 6443;
/// The outside world: the external host, behind the fabric.
pub const EXTERNAL_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// The fabric's address on the outside network.
pub const EXTERNAL_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The BGP router's address on the node network (when the lab has one): above every node's
/// (.2–.251), below the broadcast address.
pub const ROUTER_IP: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 254);
/// The node network's bridge in the fabric namespace.
pub const FABRIC_BRIDGE: &str = "br0";
/// The fabric's end of the link to the external host.
pub(crate) const FABRIC_EXTERNAL_PORT: &str = "ext0";
/// The name of the uplink inside nodes and the external host, as on a real machine.
pub(crate) const UPLINK: &str = "eth0";

/// Node *i* (0-based, in config order) is 172.18.0.(i+2); the LoadBalancer pool starts at
/// 172.18.255.200, far above.
const MAX_NODES: usize = 250;

/// One lab's namespaces, links and addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub lab: String,
    /// Every namespace of the lab starts with this: `podnet.<lab>.` (lab names are DNS
    /// labels, without dots, so one lab's prefix never matches another's namespaces).
    pub prefix: String,
    pub fabric: String,
    pub external: String,
    pub nodes: Vec<NodePlan>,
    /// The BGP router on the node network, in labs that ask for one.
    pub router: Option<RouterPlan>,
}

/// The BGP router: a namespace on the fabric's bridge, and the prefixes the fabric (the
/// outside world's gateway) routes through it rather than to the node network directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterPlan {
    pub netns: String,
    pub ip: Ipv4Addr,
    pub fabric_port: String,
    /// LoadBalancer addresses and pod CIDRs: the router knows, from BGP, which node has them.
    pub routed: Vec<Ipv4Net>,
}

/// One node: its namespace, its address, and its port on the fabric's bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlan {
    pub name: String,
    pub netns: String,
    pub ip: Ipv4Addr,
    /// The fabric's end of the node's uplink (at most 15 bytes: `node<i>`).
    pub fabric_port: String,
}

// === impl Plan ===

impl Plan {
    /// The plan for lab `lab` with `nodes` in config order.
    pub fn new(lab: &str, nodes: &[String]) -> Result<Self> {
        if nodes.len() > MAX_NODES {
            return Err(Error::TooManyNodes {
                lab: lab.to_owned(),
                count: nodes.len(),
                max: MAX_NODES,
            });
        }
        let prefix = Self::prefix_of(lab);
        let nodes = nodes
            .iter()
            .enumerate()
            .map(|(i, name)| NodePlan {
                name: name.clone(),
                netns: format!("{prefix}{name}"),
                ip: Ipv4Addr::new(172, 18, 0, i as u8 + 2),
                fabric_port: format!("node{i}"),
            })
            .collect();
        Ok(Plan {
            lab: lab.to_owned(),
            fabric: format!("{prefix}fabric"),
            external: format!("{prefix}external"),
            prefix,
            nodes,
            router: None,
        })
    }

    /// The same lab with a BGP router (namespace `<prefix>router`, [`ROUTER_IP`]) through
    /// which the fabric routes `routed`.
    pub fn with_router(mut self, routed: Vec<Ipv4Net>) -> Self {
        self.router = Some(RouterPlan {
            netns: format!("{}router", self.prefix),
            ip: ROUTER_IP,
            fabric_port: "router".to_owned(),
            routed,
        });
        self
    }

    /// `podnet.<lab>.`: the prefix of every namespace of the lab, pods' included.
    pub fn prefix_of(lab: &str) -> String {
        format!("podnet.{lab}.")
    }

    /// The prefix of the pods' namespaces on node `node` (the kubelet's `--netns-prefix`).
    pub fn pod_netns_prefix(&self, node: &str) -> String {
        format!("{}pod.{node}.", self.prefix)
    }

    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("kind-worker{i}")).collect()
    }

    #[test]
    fn nodes_get_consecutive_addresses_from_dot_two() {
        let plan = Plan::new("kind", &names(3)).unwrap();
        let ips: Vec<_> = plan.nodes.iter().map(|n| n.ip.to_string()).collect();
        assert_eq!(ips, ["172.18.0.2", "172.18.0.3", "172.18.0.4"]);
        assert!(plan.nodes.iter().all(|n| NODE_NETWORK.contains(&n.ip)));
        assert_eq!(plan.nodes[2].fabric_port, "node2");
    }

    #[test]
    fn every_namespace_carries_the_lab_prefix() {
        let plan = Plan::new("dev", &names(2)).unwrap();
        assert_eq!(plan.fabric, "podnet.dev.fabric");
        assert_eq!(plan.external, "podnet.dev.external");
        assert_eq!(plan.nodes[0].netns, "podnet.dev.kind-worker0");
        assert_eq!(
            plan.pod_netns_prefix("kind-worker0"),
            "podnet.dev.pod.kind-worker0."
        );
        for ns in [&plan.fabric, &plan.external, &plan.nodes[1].netns] {
            assert!(ns.starts_with(&plan.prefix));
        }
    }

    #[test]
    fn the_router_sits_above_every_node_in_a_namespace_of_the_lab() {
        let routed = vec!["172.18.255.0/24".parse().unwrap()];
        let plan = Plan::new("kind", &names(MAX_NODES))
            .unwrap()
            .with_router(routed.clone());
        let router = plan.router.as_ref().unwrap();
        assert_eq!(router.netns, "podnet.kind.router");
        assert!(NODE_NETWORK.contains(&router.ip));
        assert!(plan.nodes.iter().all(|n| n.ip < router.ip));
        assert_eq!(router.routed, routed);
        assert!(Plan::new("kind", &names(1)).unwrap().router.is_none());
    }

    #[test]
    fn one_labs_prefix_never_matches_anothers_namespaces() {
        let short = Plan::new("kind", &names(1)).unwrap();
        let long = Plan::new("kind-x", &names(1)).unwrap();
        assert!(!long.fabric.starts_with(&short.prefix));
    }

    #[test]
    fn fabric_ports_fit_an_interface_name_at_the_largest_lab() {
        let plan = Plan::new("kind", &names(MAX_NODES)).unwrap();
        assert!(plan.nodes.iter().all(|n| n.fabric_port.len() <= 15));
        assert_eq!(
            plan.nodes.last().unwrap().ip,
            Ipv4Addr::new(172, 18, 0, 251)
        );
        assert!(matches!(
            Plan::new("kind", &names(MAX_NODES + 1)),
            Err(Error::TooManyNodes { .. })
        ));
    }
}
