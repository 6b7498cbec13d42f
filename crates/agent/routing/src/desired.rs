//! Intent → desired state: everything this node's kernel must hold for the cluster's other
//! nodes, computed from the Node objects alone (pure; the golden files are its `Display`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use podnet_k8s_model::NodeRoute;

use crate::config::{
    Config, Mode, ROUTE_PROTOCOL, VXLAN_DEVICE, VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI,
};
use crate::egress::Egress;
use crate::error::{Error, Result};
use crate::vtep::VtepMac;

/// This node as the kernel side found it: its address and the link that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalNode {
    pub ip: Ipv4Addr,
    /// The link holding the node IP: the overlay's underlay, host-gw's exit.
    pub underlay: String,
    pub underlay_mtu: u32,
}

/// The VXLAN device of this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanDevice {
    pub name: String,
    pub vni: u32,
    pub port: u16,
    pub local: Ipv4Addr,
    pub underlay: String,
    pub mtu: u32,
    pub mac: VtepMac,
    /// The first address of this node's pod CIDR, as a /32 (as flannel does): the source of
    /// the node's own packets to remote pods, and the next hop other nodes route through.
    pub address: Option<Ipv4Net>,
}

/// A route to another node's pod CIDR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub via: Ipv4Addr,
    pub dev: String,
    pub onlink: bool,
    /// The Node it is for (not in the kernel; for logs and the debug view).
    pub node: String,
}

/// A permanent neighbour entry on the VXLAN device: a remote VTEP address → its MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub mac: VtepMac,
    pub node: String,
}

/// A permanent FDB entry on the VXLAN device: a remote VTEP MAC → its node IP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fdb {
    pub dst: Ipv4Addr,
    pub node: String,
}

/// Everything routing wants in this node's kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    pub node: String,
    pub mode: Mode,
    pub local: LocalNode,
    /// Present in vxlan mode; absent in host-gw mode, where a leftover device is removed.
    pub vxlan: Option<VxlanDevice>,
    pub routes: BTreeMap<Ipv4Net, Route>,
    pub neighbours: BTreeMap<Ipv4Addr, Neighbour>,
    pub fdb: BTreeMap<VtepMac, Fdb>,
    pub egress: Egress,
}

/// Computes the desired state of node `cfg.node` from every Node of the cluster.
///
/// Other nodes without an IPv4 InternalIP or without an IPv4 pod CIDR get nothing (yet);
/// this node must have an IPv4 InternalIP (the kernel side found `local` through it).
pub fn desired(cfg: &Config, local: &LocalNode, nodes: &[NodeRoute]) -> Desired {
    let own_cidr = nodes
        .iter()
        .find(|n| n.name == cfg.node)
        .and_then(|n| first_v4(&n.pod_cidrs));
    let vxlan = (cfg.mode == Mode::Vxlan).then(|| VxlanDevice {
        name: VXLAN_DEVICE.to_owned(),
        vni: VXLAN_VNI,
        port: VXLAN_PORT,
        local: local.ip,
        underlay: local.underlay.clone(),
        mtu: local.underlay_mtu - VXLAN_OVERHEAD,
        mac: VtepMac::of(local.ip),
        address: own_cidr.map(|c| Ipv4Net::new(c.network(), 32).expect("/32 is valid")),
    });
    let mut out = Desired {
        node: cfg.node.clone(),
        mode: cfg.mode,
        local: local.clone(),
        vxlan,
        routes: BTreeMap::new(),
        neighbours: BTreeMap::new(),
        fdb: BTreeMap::new(),
        egress: Egress {
            cluster_cidr: cfg.cluster_cidr,
            node_ips: nodes.iter().filter_map(node_v4).collect::<BTreeSet<_>>(),
        },
    };
    if let Mode::Bgp { gateway } = cfg.mode {
        // One route for every other node's pods: the router learned each pod CIDR from its
        // node. This node's own CIDR is more specific (on the pods' bridge).
        out.routes.insert(
            cfg.cluster_cidr,
            Route {
                via: gateway,
                dev: local.underlay.clone(),
                onlink: false,
                node: "bgp router".to_owned(),
            },
        );
        return out;
    }
    for node in nodes.iter().filter(|n| n.name != cfg.node) {
        let Some(node_ip) = node_v4(node) else {
            continue;
        };
        let cidrs = node.pod_cidrs.iter().filter_map(|c| match c {
            IpNet::V4(v4) => Some(*v4),
            IpNet::V6(_) => None,
        });
        for cidr in cidrs {
            match cfg.mode {
                Mode::HostGw => {
                    out.routes.insert(
                        cidr,
                        Route {
                            via: node_ip,
                            dev: local.underlay.clone(),
                            onlink: false,
                            node: node.name.clone(),
                        },
                    );
                }
                Mode::Bgp { .. } => unreachable!("bgp mode routes the cluster CIDR above"),
                Mode::Vxlan => {
                    // The remote VTEP is the first address of the remote pod CIDR (the
                    // address that node gives its own device); it is reached onlink, since
                    // no address of this device covers it.
                    let vtep = cidr.network();
                    let mac = VtepMac::of(node_ip);
                    out.routes.insert(
                        cidr,
                        Route {
                            via: vtep,
                            dev: VXLAN_DEVICE.to_owned(),
                            onlink: true,
                            node: node.name.clone(),
                        },
                    );
                    out.neighbours.insert(
                        vtep,
                        Neighbour {
                            mac,
                            node: node.name.clone(),
                        },
                    );
                    out.fdb.insert(
                        mac,
                        Fdb {
                            dst: node_ip,
                            node: node.name.clone(),
                        },
                    );
                }
            }
        }
    }
    out
}

/// This node's IPv4 InternalIP from the Node objects (what the kernel side looks up the
/// underlay by).
pub(crate) fn own_ip(cfg: &Config, nodes: &[NodeRoute]) -> Result<Ipv4Addr> {
    let own = nodes
        .iter()
        .find(|n| n.name == cfg.node)
        .ok_or_else(|| Error::OwnNodeMissing {
            node: cfg.node.clone(),
        })?;
    node_v4(own).ok_or_else(|| Error::OwnNodeWithoutIp {
        node: cfg.node.clone(),
    })
}

fn node_v4(n: &NodeRoute) -> Option<Ipv4Addr> {
    match n.node_ip.map(|ip| ip.0) {
        Some(IpAddr::V4(v4)) => Some(v4),
        _ => None,
    }
}

fn first_v4(cidrs: &[IpNet]) -> Option<Ipv4Net> {
    cidrs.iter().find_map(|c| match c {
        IpNet::V4(v4) => Some(*v4),
        IpNet::V6(_) => None,
    })
}

// === impl Desired ===

/// The debug view, one object per line in `ip`'s own words, so a line can be compared with
/// what `ip`/`bridge`/`nft` print (and pasted into them).
impl fmt::Display for Desired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# node {} ({} on {}, mtu {}), mode {}",
            self.node, self.local.ip, self.local.underlay, self.local.underlay_mtu, self.mode
        )?;
        if let Some(d) = &self.vxlan {
            writeln!(
                f,
                "link {} type vxlan id {} dstport {} local {} dev {} nolearning mtu {} address {}",
                d.name, d.vni, d.port, d.local, d.underlay, d.mtu, d.mac
            )?;
            if let Some(a) = d.address {
                writeln!(f, "addr {a} dev {}", d.name)?;
            }
        }
        for (dst, r) in &self.routes {
            let onlink = if r.onlink { " onlink" } else { "" };
            writeln!(
                f,
                "route {dst} via {} dev {}{onlink} proto {ROUTE_PROTOCOL}  # {}",
                r.via, r.dev, r.node
            )?;
        }
        for (ip, n) in &self.neighbours {
            writeln!(
                f,
                "neigh {ip} lladdr {} dev {VXLAN_DEVICE} nud permanent  # {}",
                n.mac, n.node
            )?;
        }
        for (mac, e) in &self.fdb {
            writeln!(
                f,
                "fdb {mac} dst {} dev {VXLAN_DEVICE} self permanent  # {}",
                e.dst, e.node
            )?;
        }
        write!(f, "{}", self.egress.table())
    }
}
