//! What the operator chooses (mode, cluster CIDR) and the fixed names podnet owns.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use ipnet::Ipv4Net;

/// The VXLAN device podnet owns (flannel's is `flannel.1`: `<name>.<VNI>`).
pub const VXLAN_DEVICE: &str = "podnet.1";
/// VXLAN network identifier: one overlay per cluster.
pub const VXLAN_VNI: u32 = 1;
/// UDP port of the overlay: Linux's historical VXLAN port, which flannel uses too.
pub const VXLAN_PORT: u16 = 8472;
/// Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14) headers.
pub const VXLAN_OVERHEAD: u32 = 50;
/// The routing protocol number podnet's routes carry (`ip route … proto 112`), so that the
/// agent can tell its routes from everyone else's. 112 is unassigned in iproute2's
/// rt_protos; 0x70 is 'p'.
pub const ROUTE_PROTOCOL: u8 = 112;
/// The nftables table podnet's egress rules live in (`table ip podnet-egress`).
pub const EGRESS_TABLE: &str = "podnet-egress";

/// How pod traffic crosses to other nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// An overlay: pod packets are encapsulated in UDP between node IPs, so nodes need only
    /// IP reachability between them.
    #[default]
    Vxlan,
    /// Direct routes via the other nodes' IPs: no encapsulation, but every node must be on
    /// the same L2 segment.
    HostGw,
    /// No encapsulation and no per-node routes: each node announces its pod CIDR to a BGP
    /// router (the agent's speaker does) and sends the whole cluster CIDR to `gateway`, that
    /// router, which alone knows which node holds which pod CIDR.
    Bgp { gateway: Ipv4Addr },
}

/// The agent's routing configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's name (its Node object).
    pub node: String,
    pub mode: Mode,
    /// Every pod address of the cluster: traffic to it is never masqueraded.
    pub cluster_cidr: Ipv4Net,
}

// === impl Mode ===

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Vxlan => "vxlan",
            Mode::HostGw => "host-gw",
            Mode::Bgp { .. } => "bgp",
        })
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "vxlan" => Ok(Mode::Vxlan),
            "host-gw" => Ok(Mode::HostGw),
            // The router's address comes with it: `Mode::Bgp { gateway }`.
            "bgp" => Err("routing mode \"bgp\" needs the BGP router's address".to_owned()),
            other => Err(format!(
                "unknown routing mode {other:?} (want \"vxlan\", \"host-gw\" or \"bgp\")"
            )),
        }
    }
}
