//! From the node the packet leaves to the destination's: the routing crate's desired state
//! for that node (route, VXLAN neighbour and FDB entry, or host-gw route), and the overlay's
//! MTU.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_agent_routing::{Config, LocalNode, Mode, VXLAN_OVERHEAD, desired};

use super::Target;
use crate::report::{Layer, LayerName};
use crate::walk::Walk;

/// The uplink's name in the desired state (what-if does not know the node's links).
const UPLINK: &str = "uplink";

pub fn check(walk: &Walk<'_>, targets: &[Target]) -> Layer {
    if targets.is_empty() {
        return Layer::not_applicable(LayerName::Routing, "no destination to route to");
    }
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    for t in targets {
        if !seen.insert((t.from_node.clone(), t.ip)) {
            continue;
        }
        match route(walk, t) {
            Ok(lines) => evidence.extend(lines),
            Err(line) => broken.push(line),
        }
    }
    evidence.dedup();
    if broken.is_empty() {
        Layer::ok(LayerName::Routing, evidence)
    } else {
        broken.extend(evidence);
        Layer::broken(LayerName::Routing, broken)
    }
}

fn route(walk: &Walk<'_>, t: &Target) -> Result<Vec<String>, String> {
    let objects = walk.objects;
    let cidrs = walk.cluster_cidrs();
    let in_pod_network = cidrs.iter().any(|c| c.contains(&t.ip));
    let to_node = objects.node_of_pod_ip(t.ip);
    let Some(from) = &t.from_node else {
        return match (in_pod_network, walk.options.routing_mode) {
            (true, Mode::Bgp { gateway }) => Ok(vec![format!(
                "from outside to {}: the BGP router {gateway} knows each node's pod CIDR",
                t.ip
            )]),
            (true, mode) => Err(format!(
                "{} is a pod address: in {mode} mode pod CIDRs are not routed outside the cluster (send to a NodePort or LoadBalancer address)",
                t.ip
            )),
            (false, _) => Ok(vec![format!(
                "{} is outside the cluster's pod network",
                t.ip
            )]),
        };
    };
    if !in_pod_network {
        if let Some(n) = objects.node_by_ip(t.ip) {
            return Ok(vec![if &n.name == from {
                format!("{} is node {from}'s own address", t.ip)
            } else {
                format!(
                    "node {from} → node {} ({}) on the node network",
                    n.name, t.ip
                )
            }]);
        }
        return Ok(vec![format!(
            "{} is outside the cluster: leaves node {from} by its default route",
            t.ip
        )]);
    }
    let Some(to_node) = to_node else {
        return Err(format!(
            "{} is in the cluster CIDR but in no node's pod CIDR: nothing routes it",
            t.ip
        ));
    };
    if &to_node.name == from {
        return Ok(vec![format!(
            "{} is on node {from} itself: delivered on the node's pod bridge",
            t.ip
        )]);
    }
    let Some(IpAddr::V4(local_ip)) = objects.node_ip(from) else {
        return Err(format!(
            "node {from} reports no IPv4 InternalIP: its agent cannot route"
        ));
    };
    let Some(cluster_cidr) = cidrs.iter().find_map(|c| match c {
        IpNet::V4(v4) => Some(*v4),
        IpNet::V6(_) => None,
    }) else {
        return Err("no IPv4 cluster CIDR".to_owned());
    };
    let cfg = Config {
        node: from.clone(),
        mode: walk.options.routing_mode,
        cluster_cidr,
    };
    let local = LocalNode {
        ip: local_ip,
        underlay: UPLINK.to_owned(),
        underlay_mtu: walk.options.underlay_mtu,
    };
    let d = desired(&cfg, &local, &objects.node_routes());
    let Some(cidr) = to_node.pod_cidrs.iter().find_map(|c| match c {
        IpNet::V4(v4) if c.contains(&t.ip) => Some(*v4),
        _ => None,
    }) else {
        return Err(format!(
            "node {} has no IPv4 pod CIDR holding {}",
            to_node.name, t.ip
        ));
    };
    let mut lines = Vec::new();
    match walk.options.routing_mode {
        Mode::Bgp { gateway } => {
            lines.push(format!(
                "node {from} sends the cluster CIDR {cluster_cidr} to the BGP router {gateway}, which knows node {}'s {cidr}",
                to_node.name
            ));
            return Ok(lines);
        }
        Mode::Vxlan | Mode::HostGw => {}
    }
    let Some(r) = d.routes.get(&cidr) else {
        return Err(format!(
            "node {from} has no route to node {}'s pod CIDR {cidr}: node {} has no InternalIP the agent can route to",
            to_node.name, to_node.name
        ));
    };
    let onlink = if r.onlink { " onlink" } else { "" };
    lines.push(format!(
        "node {from}: route {cidr} via {} dev {}{onlink} (node {})",
        r.via, r.dev, to_node.name
    ));
    if let Some(vx) = &d.vxlan {
        if let Some(n) = d.neighbours.get(&r.via) {
            lines.push(format!(
                "neighbour {} lladdr {} dev {}",
                r.via, n.mac, vx.name
            ));
            match d.fdb.get(&n.mac) {
                Some(f) => lines.push(format!(
                    "FDB {} dst {} (node {}'s VTEP), VXLAN id {} port {}",
                    n.mac, f.dst, f.node, vx.vni, vx.port
                )),
                None => {
                    return Err(format!(
                        "no FDB entry for {}: the overlay cannot reach node {}",
                        n.mac, to_node.name
                    ));
                }
            }
        }
        lines.push(format!(
            "overlay MTU {} (underlay {} − {VXLAN_OVERHEAD} for VXLAN)",
            vx.mtu, walk.options.underlay_mtu
        ));
    }
    Ok(lines)
}
