//! The parsed cluster config, every default applied.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// A lab's cluster, as its config describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// `name`: the cluster's name when the command line does not give one.
    pub name: Option<String>,
    /// `nodes`, in config order (kind names them `NAME-control-plane`, `NAME-worker`, …).
    pub nodes: Vec<Node>,
    pub networking: Networking,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub role: Role,
    /// `labels`: put on the Node object.
    pub labels: BTreeMap<String, String>,
    /// `extraPortMappings`: parsed and checked; not served yet (see the crate's notes).
    pub extra_port_mappings: Vec<PortMapping>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ControlPlane,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub container_port: u16,
    /// None: kind picks a random host port.
    pub host_port: Option<u16>,
    pub listen_address: IpAddr,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Networking {
    pub ip_family: IpFamily,
    /// `apiServerAddress`: where the API server listens on the host (loopback only).
    pub api_server_address: IpAddr,
    /// `apiServerPort`: None (absent, 0 or -1) lets the lab pick a free port.
    pub api_server_port: Option<u16>,
    /// `podSubnet`: one CIDR per family, primary family first.
    pub pod_subnets: Vec<IpNet>,
    /// `serviceSubnet`: one CIDR per family, primary family first.
    pub service_subnets: Vec<IpNet>,
    /// `disableDefaultCNI`: the nodes get no CNI config; the user installs one.
    pub disable_default_cni: bool,
    pub kube_proxy_mode: KubeProxyMode,
    /// `routingMode` (podnet's own key; kind's nodes share one L2 network and route
    /// directly): how pod traffic crosses between nodes.
    pub routing_mode: RoutingMode,
    /// `bgp` (podnet's own key): a BGP router on the node network that the nodes' agents
    /// peer with; present whenever `routingMode` is `bgp`.
    pub bgp: Option<Bgp>,
    /// `dnsSearch`: None keeps the host's search list, as kind does.
    pub dns_search: Option<Vec<String>>,
    /// `loadBalancerPool` (podnet's own key): the lab's `default` LoadBalancerIPPool, ranges
    /// and CIDRs on the node network (default 172.18.255.200-172.18.255.250).
    pub load_balancer_pool: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    Ipv4,
    Ipv6,
    Dual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingMode {
    /// An overlay (VNI 1, UDP 8472), as flannel's vxlan backend: the default.
    Vxlan,
    /// Direct routes via the node addresses, as flannel's host-gw backend.
    HostGw,
    /// No overlay: each node announces its pod CIDR to the BGP router, which routes
    /// between the nodes.
    Bgp,
}

/// The lab's BGP router and the autonomous systems on each side of its sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bgp {
    /// `routerASN`: the router's AS (default 64512, the first private 2-octet AS).
    pub router_asn: u32,
    /// `nodeASN`: the AS every node's agent speaks from (default 64513): eBGP to the
    /// router, as MetalLB's and Calico's common top-of-rack setups do.
    pub node_asn: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeProxyMode {
    Nftables,
    Iptables,
    Ipvs,
    None,
}

// === impl Cluster ===

impl Default for Cluster {
    /// No config: one control-plane node and two workers, the lab's networks.
    fn default() -> Self {
        Cluster {
            name: None,
            nodes: vec![
                Node::new(Role::ControlPlane),
                Node::new(Role::Worker),
                Node::new(Role::Worker),
            ],
            networking: Networking::defaults(IpFamily::Ipv4),
        }
    }
}

impl Cluster {
    /// The node roles in config order.
    pub fn roles(&self) -> Vec<Role> {
        self.nodes.iter().map(|n| n.role).collect()
    }
}

// === impl Node ===

impl Node {
    pub fn new(role: Role) -> Self {
        Node {
            role,
            labels: BTreeMap::new(),
            extra_port_mappings: Vec::new(),
        }
    }
}

// === impl Role ===

impl Role {
    pub const VALUES: &[&str] = &["control-plane", "worker"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "control-plane" => Some(Role::ControlPlane),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
        })
    }
}

// === impl Protocol ===

impl Protocol {
    pub const VALUES: &[&str] = &["TCP", "UDP", "SCTP"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

// === impl Networking ===

impl Networking {
    /// The lab's networks for a family: pods 10.244.0.0/16, services 10.96.0.0/16 (and kind's
    /// IPv6 defaults, fd00:10:244::/56 and fd00:10:96::/112).
    pub fn defaults(ip_family: IpFamily) -> Self {
        Networking {
            ip_family,
            api_server_address: Ipv4Addr::LOCALHOST.into(),
            api_server_port: None,
            pod_subnets: ip_family.default_pod_subnets(),
            service_subnets: ip_family.default_service_subnets(),
            disable_default_cni: false,
            kube_proxy_mode: KubeProxyMode::Nftables,
            routing_mode: RoutingMode::Vxlan,
            bgp: None,
            dns_search: None,
            load_balancer_pool: vec!["172.18.255.200-172.18.255.250".to_owned()],
        }
    }
}

// === impl IpFamily ===

impl IpFamily {
    pub const VALUES: &[&str] = &["ipv4", "ipv6", "dual"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ipv4" => Some(IpFamily::Ipv4),
            "ipv6" => Some(IpFamily::Ipv6),
            "dual" => Some(IpFamily::Dual),
            _ => None,
        }
    }

    fn default_pod_subnets(self) -> Vec<IpNet> {
        self.pick("10.244.0.0/16", "fd00:10:244::/56")
    }

    fn default_service_subnets(self) -> Vec<IpNet> {
        self.pick("10.96.0.0/16", "fd00:10:96::/112")
    }

    fn pick(self, v4: &str, v6: &str) -> Vec<IpNet> {
        let cidrs: &[&str] = match self {
            IpFamily::Ipv4 => &[v4],
            IpFamily::Ipv6 => &[v6],
            IpFamily::Dual => &[v4, v6],
        };
        cidrs
            .iter()
            .map(|c| c.parse().expect("literal CIDR"))
            .collect()
    }

    /// Whether `cidrs` (primary first) have the families this setting asks for.
    pub fn matches(self, cidrs: &[IpNet]) -> bool {
        let v4 = |n: &IpNet| matches!(n, IpNet::V4(_));
        match self {
            IpFamily::Ipv4 => cidrs.len() == 1 && v4(&cidrs[0]),
            IpFamily::Ipv6 => cidrs.len() == 1 && !v4(&cidrs[0]),
            IpFamily::Dual => cidrs.len() == 2 && v4(&cidrs[0]) != v4(&cidrs[1]),
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
            IpFamily::Dual => "dual",
        })
    }
}

// === impl RoutingMode ===

impl RoutingMode {
    pub const VALUES: &[&str] = &["vxlan", "host-gw", "bgp"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vxlan" => Some(RoutingMode::Vxlan),
            "host-gw" => Some(RoutingMode::HostGw),
            "bgp" => Some(RoutingMode::Bgp),
            _ => None,
        }
    }
}

impl fmt::Display for RoutingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoutingMode::Vxlan => "vxlan",
            RoutingMode::HostGw => "host-gw",
            RoutingMode::Bgp => "bgp",
        })
    }
}

// === impl Bgp ===

impl Default for Bgp {
    fn default() -> Self {
        Bgp {
            router_asn: 64512,
            node_asn: 64513,
        }
    }
}

// === impl KubeProxyMode ===

impl KubeProxyMode {
    pub const VALUES: &[&str] = &["nftables", "iptables", "ipvs", "none"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nftables" => Some(KubeProxyMode::Nftables),
            "iptables" => Some(KubeProxyMode::Iptables),
            "ipvs" => Some(KubeProxyMode::Ipvs),
            "none" => Some(KubeProxyMode::None),
            _ => None,
        }
    }
}

impl fmt::Display for KubeProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KubeProxyMode::Nftables => "nftables",
            KubeProxyMode::Iptables => "iptables",
            KubeProxyMode::Ipvs => "ipvs",
            KubeProxyMode::None => "none",
        })
    }
}
