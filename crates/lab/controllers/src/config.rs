//! What the controllers need of the lab's cluster config. Parsing kind's `kind: Cluster`
//! format is `lab up`'s business; it fills this plain struct.

use std::net::{Ipv4Addr, SocketAddr};

use ipnet::IpNet;

/// The cluster the controllers run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The nodes, in config order: node *i* gets the *i*-th pod CIDR of each cluster CIDR.
    pub nodes: Vec<NodeConfig>,
    /// `networking.podSubnet`: one CIDR per family, primary first.
    pub pod_subnets: Vec<IpNet>,
    /// Size of each node's pod CIDR per family (24 for IPv4, 64 for IPv6 by default, as
    /// kube-controller-manager's `--node-cidr-mask-size-ipv4/6`).
    pub node_cidr_mask_v4: u8,
    pub node_cidr_mask_v6: u8,
    /// `networking.serviceSubnet`, primary first: the `kubernetes` Service takes the first
    /// address of the first one.
    pub service_subnets: Vec<IpNet>,
    /// Where the API server is reached from the nodes (the `kubernetes` Service's endpoint).
    pub api_server: SocketAddr,
    /// The cluster CA's certificate (PEM), published as `kube-root-ca.crt` in every
    /// namespace; None: nothing to publish.
    pub root_ca: Option<String>,
    /// LoadBalancer address pools (the lab's default: 172.18.255.200–172.18.255.250).
    pub load_balancer_pools: Vec<podnet_lab_controllers_alloc::Pool>,
}

/// One node of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    pub name: String,
    pub role: Role,
    /// The node's address on the node network (its `InternalIP`).
    pub internal_ip: Option<std::net::IpAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ControlPlane,
    Worker,
}

// === impl Config ===

impl Config {
    /// The lab's world (DESIGN.md): kind's node names for `cluster`, node *i* at
    /// 172.18.0.(i+2), pods 10.244.0.0/16, services 10.96.0.0/16, API server 172.18.0.1:6443.
    pub fn lab(cluster: &str, roles: &[Role]) -> Self {
        let mut workers = 0;
        let nodes = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let name = match role {
                    Role::ControlPlane if i == 0 => format!("{cluster}-control-plane"),
                    Role::ControlPlane => format!("{cluster}-control-plane{}", i + 1),
                    Role::Worker => {
                        workers += 1;
                        match workers {
                            1 => format!("{cluster}-worker"),
                            n => format!("{cluster}-worker{n}"),
                        }
                    }
                };
                let ip = Ipv4Addr::new(172, 18, 0, (i + 2) as u8);
                NodeConfig {
                    name,
                    role: *role,
                    internal_ip: Some(ip.into()),
                }
            })
            .collect();
        Config {
            nodes,
            pod_subnets: vec!["10.244.0.0/16".parse().expect("literal")],
            node_cidr_mask_v4: 24,
            node_cidr_mask_v6: 64,
            service_subnets: vec!["10.96.0.0/16".parse().expect("literal")],
            api_server: "172.18.0.1:6443".parse().expect("literal"),
            root_ca: None,
            load_balancer_pools: vec![podnet_lab_controllers_alloc::LbAllocator::lab_pool()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_default_names_nodes_like_kind() {
        let c = Config::lab("kind", &[Role::ControlPlane, Role::Worker, Role::Worker]);
        let names: Vec<_> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["kind-control-plane", "kind-worker", "kind-worker2"]);
        assert_eq!(c.nodes[2].internal_ip, Some("172.18.0.4".parse().unwrap()));
    }
}
