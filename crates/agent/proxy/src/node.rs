//! What the proxy knows about the node it runs on.

use std::net::IpAddr;

use ipnet::IpNet;
use podnet_k8s_model::AddressFamily;

/// This node, as every proxy mode needs it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NodeInfo {
    /// The Node's name: endpoints with this `nodeName` are local.
    pub name: String,
    /// The Node's `topology.kubernetes.io/zone` label, for PreferClose routing.
    pub zone: Option<String>,
    /// The node's primary addresses (its `InternalIP`s), at most one per family.
    pub node_ips: Vec<IpAddr>,
    /// The cluster's pod CIDRs: traffic to a ClusterIP from anywhere else is masqueraded.
    pub cluster_cidrs: Vec<IpNet>,
}

/// `--nodeport-addresses`: which local addresses accept NodePort traffic.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum NodePortAddressConfig {
    /// The node's primary addresses only (kube-proxy's nftables default, `primary`).
    #[default]
    Primary,
    /// Every local address except loopback (kube-proxy's iptables default).
    All,
    /// The local addresses inside these CIDRs (`0.0.0.0/0` / `::/0` mean all).
    Cidrs(Vec<IpNet>),
}

/// The addresses NodePorts answer on, for one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodePortAddresses {
    /// Any local address (`fib daddr type local` / `-m addrtype --dst-type LOCAL`), never
    /// loopback.
    AllLocal,
    /// Exactly these.
    Only(Vec<IpAddr>),
}

// === impl NodeInfo ===

impl NodeInfo {
    pub fn is_local(&self, node_name: Option<&str>) -> bool {
        node_name.is_some_and(|n| n == self.name)
    }

    pub fn node_ip(&self, family: AddressFamily) -> Option<IpAddr> {
        self.node_ips
            .iter()
            .copied()
            .find(|ip| family_of(*ip) == family)
    }

    pub fn cluster_cidrs(&self, family: AddressFamily) -> impl Iterator<Item = &IpNet> {
        self.cluster_cidrs
            .iter()
            .filter(move |n| family_of(n.addr()) == family)
    }
}

// === impl NodePortAddressConfig ===

impl NodePortAddressConfig {
    /// Resolves the configuration for `family`, given the node and its current local
    /// addresses (`local_addrs`: every address on every interface of the node's netns).
    pub fn resolve(
        &self,
        family: AddressFamily,
        node: &NodeInfo,
        local_addrs: &[IpAddr],
    ) -> NodePortAddresses {
        match self {
            NodePortAddressConfig::All => NodePortAddresses::AllLocal,
            NodePortAddressConfig::Primary => {
                NodePortAddresses::Only(node.node_ip(family).into_iter().collect())
            }
            NodePortAddressConfig::Cidrs(cidrs) => {
                let cidrs: Vec<&IpNet> = cidrs
                    .iter()
                    .filter(|c| family_of(c.addr()) == family)
                    .collect();
                if cidrs.iter().any(|c| c.prefix_len() == 0) {
                    return NodePortAddresses::AllLocal;
                }
                let mut ips: Vec<IpAddr> = local_addrs
                    .iter()
                    .copied()
                    .filter(|ip| !ip.is_loopback() && cidrs.iter().any(|c| c.contains(ip)))
                    .collect();
                ips.sort();
                ips.dedup();
                NodePortAddresses::Only(ips)
            }
        }
    }
}

pub fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::V4,
        IpAddr::V6(_) => AddressFamily::V6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn node_port_addresses_per_config() {
        let node = NodeInfo {
            name: "n1".into(),
            node_ips: vec![ip("172.18.0.2"), ip("fd12::2")],
            ..Default::default()
        };
        let local = [
            ip("127.0.0.1"),
            ip("172.18.0.2"),
            ip("10.244.1.1"),
            ip("fd12::2"),
        ];
        let v4 = AddressFamily::V4;
        assert_eq!(
            NodePortAddressConfig::Primary.resolve(v4, &node, &local),
            NodePortAddresses::Only(vec![ip("172.18.0.2")])
        );
        assert_eq!(
            NodePortAddressConfig::All.resolve(v4, &node, &local),
            NodePortAddresses::AllLocal
        );
        let cidrs = NodePortAddressConfig::Cidrs(vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.0/8".parse().unwrap(),
        ]);
        assert_eq!(
            cidrs.resolve(v4, &node, &local),
            NodePortAddresses::Only(vec![ip("10.244.1.1")]),
            "loopback never accepts NodePorts"
        );
        let all = NodePortAddressConfig::Cidrs(vec!["0.0.0.0/0".parse().unwrap()]);
        assert_eq!(all.resolve(v4, &node, &local), NodePortAddresses::AllLocal);
        assert_eq!(
            NodePortAddressConfig::Primary.resolve(AddressFamily::V6, &node, &local),
            NodePortAddresses::Only(vec![ip("fd12::2")])
        );
    }
}
