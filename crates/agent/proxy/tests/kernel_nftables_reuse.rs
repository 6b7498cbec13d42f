//! A ClusterIP freed by one Service and taken by another (the API server hands a deleted
//! Service's address out again), against the real kernel with real packets: the new
//! Service's endpoints answer as soon as the sync that programs it returns — whether the
//! delete and the create arrive in one sync (one `--min-sync-period`) or in two — and no
//! UDP flow stays pinned to the old Service's endpoints by its conntrack entry
//! (kube-proxy flushes those; TCP's new connections follow the rules).

mod support;

use std::collections::BTreeSet;

use podnet_agent_proxy::Engine;
use podnet_agent_proxy::fixture;
use podnet_k8s_model::{Protocol, Service, ServiceName};
use podnet_test_util::proxy_topology::Topology;
use support::{CIP, engine, hostnames, netexec_slice, pods, program, udp_hostname, web};

/// The names `new`'s pods (pods 2 and 3) answer with.
fn new_hostnames() -> BTreeSet<String> {
    BTreeSet::from(["pod-2".to_owned(), "pod-3".to_owned()])
}

/// Service `old` on CIP served by pod-1, with a UDP flow from the client pinned to it by
/// conntrack (the fixed source port of [`udp_hostname`]) and TCP answering.
fn old_service_with_flows(topo: &Topology, e: &mut Engine) {
    program(e, web("old", CIP, |_| {}), pods(&[1]));
    assert_eq!(
        udp_hostname(&topo.client, &format!("{CIP}:81")).as_deref(),
        Some("pod-1")
    );
    assert_eq!(
        hostnames(&topo.client, &format!("http://{CIP}/hostname"), 1),
        ["pod-1"]
    );
}

fn remove_old(e: &mut Engine) {
    e.state_mut()
        .remove_service(&ServiceName::new("ns1", "old"));
    e.state_mut().remove_slice("ns1", "old-1");
}

fn add_new(e: &mut Engine, svc: Service) {
    e.state_mut().upsert_service(svc);
    e.state_mut()
        .upsert_slice(netexec_slice("new", pods(&[2, 3])));
}

/// Every answer on `tcp` and `udp` (ports of CIP) comes from `new`'s pods, from the first
/// packet after the sync on: the same UDP flow as before, and new TCP connections.
fn assert_new_answers(topo: &Topology, tcp: u16, udp: u16) {
    for round in 0..10 {
        let got = udp_hostname(&topo.client, &format!("{CIP}:{udp}"));
        assert!(
            got.as_ref().is_some_and(|h| new_hostnames().contains(h)),
            "UDP {CIP}:{udp}, round {round}: {got:?} (the old flow must be flushed)"
        );
    }
    let seen: BTreeSet<String> =
        hostnames(&topo.client, &format!("http://{CIP}:{tcp}/hostname"), 20)
            .into_iter()
            .collect();
    assert_eq!(seen, new_hostnames(), "TCP {CIP}:{tcp}");
    // From a pod (the old Service's own endpoint) and from the node itself too.
    for (who, from) in [("pod-1", &topo.pods[0]), ("node", &topo.node)] {
        let h = hostnames(from, &format!("http://{CIP}:{tcp}/hostname"), 1).remove(0);
        assert!(new_hostnames().contains(&h), "TCP from {who}: {h}");
    }
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(
        !listed.contains("ns1/old"),
        "no rule of the old Service: {listed}"
    );
}

#[test]
fn nftables_cluster_ip_reused_on_the_same_ports_in_one_sync() {
    let topo = Topology::new("nft-reuse1", 3);
    let mut e = engine(&topo);
    old_service_with_flows(&topo, &mut e);
    remove_old(&mut e);
    add_new(&mut e, web("new", CIP, |_| {}));
    e.sync(false).expect("sync");
    assert_new_answers(&topo, 80, 81);
}

#[test]
fn nftables_cluster_ip_reused_on_other_ports_in_one_sync() {
    let topo = Topology::new("nft-reuse2", 3);
    let mut e = engine(&topo);
    old_service_with_flows(&topo, &mut e);
    remove_old(&mut e);
    add_new(
        &mut e,
        fixture::service("ns1", "new", CIP, |s| {
            s.ports = vec![
                fixture::port("p80", Protocol::Tcp, 8080, None),
                fixture::port("udp", Protocol::Udp, 82, None),
            ];
        }),
    );
    e.sync(false).expect("sync");
    assert_new_answers(&topo, 8080, 82);
    // The old ports lead nowhere now: the old flow is not kept alive to pod-1.
    assert_eq!(udp_hostname(&topo.client, &format!("{CIP}:81")), None);
}

#[test]
fn nftables_cluster_ip_reused_in_two_syncs() {
    let topo = Topology::new("nft-reuse3", 3);
    let mut e = engine(&topo);
    old_service_with_flows(&topo, &mut e);
    remove_old(&mut e);
    e.sync(false).expect("sync");
    // The client keeps sending while the address belongs to no Service: that flow's
    // conntrack entry, not NATed, must not outlive the new Service's rules.
    assert_eq!(udp_hostname(&topo.client, &format!("{CIP}:81")), None);
    add_new(&mut e, web("new", CIP, |_| {}));
    e.sync(false).expect("sync");
    assert_new_answers(&topo, 80, 81);
}
