//! Pure: Nodes → desired state → plan, compared with golden files (run with
//! `UPDATE_GOLDEN=1` to rewrite them after an intended change, then review the diff).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use podnet_agent_routing::{
    Config, Desired, LocalNode, Mode, Observed, ObservedRoute, Plan, VtepMac, desired, plan,
};
use podnet_k8s_model::{NodeIp, NodeRoute};
use podnet_test_util::golden;

/// Node *i* of the lab: 172.18.0.(i+1), pod CIDR 10.244.i.0/24.
fn node(i: u8, with: impl FnOnce(&mut NodeRoute)) -> NodeRoute {
    let mut n = NodeRoute {
        name: format!("node-{i}"),
        node_ip: Some(NodeIp(IpAddr::V4(Ipv4Addr::new(172, 18, 0, i + 1)))),
        pod_cidrs: vec![format!("10.244.{i}.0/24").parse().unwrap()],
    };
    with(&mut n);
    n
}

fn three() -> Vec<NodeRoute> {
    (1..=3).map(|i| node(i, |_| {})).collect()
}

fn cfg(mode: Mode) -> Config {
    Config {
        node: "node-1".into(),
        mode,
        cluster_cidr: "10.244.0.0/16".parse().unwrap(),
    }
}

fn local() -> LocalNode {
    LocalNode {
        ip: Ipv4Addr::new(172, 18, 0, 2),
        underlay: "eth0".into(),
        underlay_mtu: 1500,
    }
}

/// What the kernel would hold after applying `d` exactly.
fn observed_after(d: &Desired) -> Observed {
    let mut o = Observed::default();
    for (dst, r) in &d.routes {
        o.routes.insert(
            *dst,
            ObservedRoute {
                via: Some(r.via),
                dev: r.dev.clone(),
                onlink: r.onlink,
            },
        );
    }
    for (ip, n) in &d.neighbours {
        o.neighbours.insert(*ip, Some(n.mac));
    }
    for (mac, e) in &d.fdb {
        o.fdb.insert((*mac, e.dst));
    }
    o
}

#[test]
fn vxlan_three_nodes() {
    let d = desired(&cfg(Mode::Vxlan), &local(), &three());
    golden("vxlan-3-nodes.txt", &d.to_string());
    let dev = d.vxlan.as_ref().unwrap();
    assert_eq!(
        dev.mtu, 1450,
        "underlay 1500 minus the 50 bytes of VXLAN headers"
    );
    assert_eq!(dev.address, Some("10.244.1.0/32".parse().unwrap()));
    assert_eq!(d.routes.len(), 2, "routes to the two other nodes only");
}

#[test]
fn host_gw_three_nodes() {
    let d = desired(&cfg(Mode::HostGw), &local(), &three());
    golden("host-gw-3-nodes.txt", &d.to_string());
    assert!(d.vxlan.is_none() && d.neighbours.is_empty() && d.fdb.is_empty());
}

#[test]
fn bgp_three_nodes_is_one_route_to_the_router() {
    let router = Ipv4Addr::new(172, 18, 0, 254);
    let d = desired(&cfg(Mode::Bgp { gateway: router }), &local(), &three());
    golden("bgp-3-nodes.txt", &d.to_string());
    assert!(d.vxlan.is_none() && d.neighbours.is_empty() && d.fdb.is_empty());
    // Nodes coming and going change nothing here: the router learns them by BGP.
    let two = desired(&cfg(Mode::Bgp { gateway: router }), &local(), &three()[..2]);
    assert_eq!(two.routes, d.routes);
}

#[test]
fn egress_ruleset() {
    let d = desired(&cfg(Mode::Vxlan), &local(), &three());
    golden(
        "egress-3-nodes.nft",
        &podnet_nft::render::script(&podnet_nft::diff(None, &d.egress.table())),
    );
}

/// Which packets the egress table masquerades, traced through it.
#[test]
fn egress_masquerades_only_pod_traffic_leaving_the_cluster() {
    use podnet_nft::object::Hook;
    use podnet_nft::trace::{Packet, trace};
    let d = desired(&cfg(Mode::Vxlan), &local(), &three());
    let t = d.egress.table();
    let ip = |s: &str| s.parse().unwrap();
    let masqueraded = |src: &str, dst: &str| {
        let outs = trace(&[&t], Hook::Postrouting, &Packet::tcp(ip(src), ip(dst), 80));
        assert_eq!(outs.len(), 1);
        outs[0].masquerade
    };
    assert!(masqueraded("10.244.1.5", "203.0.113.10"), "pod to outside");
    assert!(!masqueraded("10.244.1.5", "10.244.2.7"), "pod to pod");
    assert!(!masqueraded("10.244.1.5", "172.18.0.3"), "pod to node");
    assert!(
        !masqueraded("172.18.0.2", "203.0.113.10"),
        "node to outside"
    );
}

#[test]
fn egress_ruleset_without_nodes_has_an_empty_set() {
    let mut d = desired(&cfg(Mode::Vxlan), &local(), &three());
    d.egress.node_ips.clear();
    let script = podnet_nft::render::script(&podnet_nft::diff(None, &d.egress.table()));
    assert!(
        script.contains("add set ip podnet-egress node-ips"),
        "{script}"
    );
    assert!(
        !script.contains("add element"),
        "nft refuses an empty elements list: {script}"
    );
}

#[test]
fn applied_state_plans_nothing() {
    for mode in [Mode::Vxlan, Mode::HostGw] {
        let d = desired(&cfg(mode), &local(), &three());
        assert_eq!(plan(&d, &observed_after(&d)), Plan::default(), "{mode}");
    }
}

#[test]
fn node_added_and_removed_vxlan() {
    let before = desired(&cfg(Mode::Vxlan), &local(), &three());
    let mut nodes = three();
    nodes.push(node(4, |_| {}));
    let added = plan(
        &desired(&cfg(Mode::Vxlan), &local(), &nodes),
        &observed_after(&before),
    );
    golden("vxlan-node-4-added.plan", &added.to_string());

    let removed = plan(
        &desired(
            &cfg(Mode::Vxlan),
            &local(),
            &[node(1, |_| {}), node(3, |_| {})],
        ),
        &observed_after(&before),
    );
    golden("vxlan-node-2-removed.plan", &removed.to_string());
    assert_eq!(
        removed.len(),
        3,
        "its route, neighbour and fdb entry: {removed}"
    );
}

#[test]
fn node_added_and_removed_host_gw() {
    let before = desired(&cfg(Mode::HostGw), &local(), &three());
    let mut nodes = three();
    nodes.remove(2);
    nodes.push(node(4, |_| {}));
    let p = plan(
        &desired(&cfg(Mode::HostGw), &local(), &nodes),
        &observed_after(&before),
    );
    golden("host-gw-node-3-replaced-by-4.plan", &p.to_string());
}

#[test]
fn switching_mode_replaces_routes_and_drops_overlay_entries() {
    let vx = desired(&cfg(Mode::Vxlan), &local(), &three());
    let p = plan(
        &desired(&cfg(Mode::HostGw), &local(), &three()),
        &observed_after(&vx),
    );
    golden("vxlan-to-host-gw.plan", &p.to_string());
    assert_eq!(p.put_routes.len(), 2);
    assert!(
        p.del_routes.is_empty(),
        "same destinations are replaced, not deleted"
    );
    assert_eq!((p.del_neighbours.len(), p.del_fdb.len()), (2, 2));
}

#[test]
fn node_ip_change_rewrites_fdb_and_route_in_place() {
    let before = desired(&cfg(Mode::Vxlan), &local(), &three());
    let mut nodes = three();
    nodes[1].node_ip = Some(NodeIp("172.18.0.33".parse().unwrap()));
    let p = plan(
        &desired(&cfg(Mode::Vxlan), &local(), &nodes),
        &observed_after(&before),
    );
    golden("vxlan-node-2-moved.plan", &p.to_string());
}

#[test]
fn hand_made_changes_are_repaired() {
    let d = desired(&cfg(Mode::Vxlan), &local(), &three());
    let mut o = observed_after(&d);
    let dst = "10.244.2.0/24".parse().unwrap();
    o.routes.remove(&dst);
    o.neighbours.insert(
        "10.244.3.0".parse().unwrap(),
        Some(VtepMac([2, 0, 0, 0, 0, 1])),
    );
    // A podnet-protocol route nobody wants any more (e.g. from a node that went away while
    // the agent was down).
    o.routes.insert(
        "10.244.9.0/24".parse().unwrap(),
        ObservedRoute {
            via: Some("10.244.9.0".parse().unwrap()),
            dev: "podnet.1".into(),
            onlink: true,
        },
    );
    let p = plan(&d, &o);
    golden("vxlan-repair.plan", &p.to_string());
}

#[test]
fn nodes_without_address_or_cidr_get_nothing_yet() {
    let nodes = vec![
        node(1, |_| {}),
        node(2, |n| n.node_ip = None),
        node(3, |n| n.pod_cidrs.clear()),
        node(4, |n| {
            n.pod_cidrs = vec!["fd00:4::/64".parse::<IpNet>().unwrap()]
        }),
    ];
    let d = desired(&cfg(Mode::Vxlan), &local(), &nodes);
    assert!(d.routes.is_empty(), "{d}");
    // A node with an address is still a node: pods reach it unmasqueraded.
    assert_eq!(d.egress.node_ips.len(), 3);
}
