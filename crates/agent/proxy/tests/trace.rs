//! Packets traced through the nftables mode's table for the fixture of every feature, as
//! the `nft -f` executor's fake holds it after a full sync: where each Service's traffic goes.

use std::collections::BTreeSet;
use std::net::IpAddr;

use podnet_agent_proxy::fixture::{self, node};
use podnet_agent_proxy::nftables::{NftBackend, transaction};
use podnet_agent_proxy::{NodePortAddressConfig, Plan, ServiceState};
use podnet_k8s_model::AddressFamily;
use podnet_nft::expr::RejectWith;
use podnet_nft::object::{Hook, Table};
use podnet_nft::trace::{Fate, Outcome, Packet, trace};
use podnet_nft::types::ct_state;
use podnet_nft::{Executor, Fake, TableId};

const NODE_IP: &str = "172.18.0.2";
const POD: &str = "10.244.1.50";
const OUTSIDE: &str = "203.0.113.10";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The every-feature table after a full sync into the fake (which validated it).
fn table() -> Table {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    plan.update(&state, &node(), &dirty);
    let backend = NftBackend::new(None, node(), NodePortAddressConfig::Primary);
    let d = backend.desired(&plan, AddressFamily::V4);
    let mut fake = Fake::new();
    fake.execute(&transaction::full(&d, &Default::default()))
        .unwrap();
    fake.table(&TableId::new(podnet_nft::types::Family::Ip, "kube-proxy"))
        .unwrap()
}

fn on_node(p: Packet) -> Packet {
    p.with_local(&[ip(NODE_IP)])
}

fn dnat_targets(outs: &[Outcome]) -> BTreeSet<String> {
    outs.iter()
        .filter_map(|o| o.dnat)
        .map(|d| format!("{}:{}", d.addr, d.port.unwrap_or(0)))
        .collect()
}

#[test]
fn cluster_ip_udp_53_reaches_one_of_the_dns_endpoints() {
    let t = table();
    let outs = trace(
        &[&t],
        Hook::Prerouting,
        &on_node(Packet::udp(ip(POD), ip("10.96.0.10"), 53)),
    );
    assert_eq!(
        dnat_targets(&outs),
        BTreeSet::from(["10.244.1.10:53".to_owned(), "10.244.2.10:53".to_owned()])
    );
    for o in &outs {
        assert_eq!(o.fate, Fate::Accept);
        assert!((o.probability - 0.5).abs() < 1e-9, "{o}");
        assert!(
            o.chains().iter().any(|c| c.contains("ns1/dns/udp/dns")),
            "{o}"
        );
    }
}

/// A client from outside the cluster reaching a ClusterIP is marked, then masqueraded.
#[test]
fn cluster_ip_from_outside_the_cluster_is_masqueraded() {
    let t = table();
    let outs = trace(
        &[&t],
        Hook::Prerouting,
        &on_node(Packet::tcp(ip(OUTSIDE), ip("10.96.0.11"), 80)),
    );
    assert_eq!(outs.len(), 3);
    for o in &outs {
        let post = trace(&[&t], Hook::Postrouting, &o.packet);
        assert!(post[0].masquerade, "{}", post[0]);
    }
    let from_pod = trace(
        &[&t],
        Hook::Prerouting,
        &on_node(Packet::tcp(ip(POD), ip("10.96.0.11"), 80)),
    );
    for o in &from_pod {
        assert!(!trace(&[&t], Hook::Postrouting, &o.packet)[0].masquerade);
    }
}

/// ETP Local on a node with no local endpoint: the NodePort is not DNATed at prerouting
/// and is dropped at input.
#[test]
fn etp_local_node_port_on_a_node_without_endpoints_is_dropped() {
    let t = table();
    let pkt = on_node(Packet::tcp(ip(OUTSIDE), ip(NODE_IP), 30016));
    let pre = trace(&[&t], Hook::Prerouting, &pkt);
    assert_eq!(pre.len(), 1);
    assert_eq!(pre[0].dnat, None, "{}", pre[0]);
    let input = trace(&[&t], Hook::Input, &pre[0].packet);
    assert_eq!(input[0].fate, Fate::Drop, "{}", input[0]);
    // The same NodePort from a pod is short-circuited to the cluster-wide endpoints.
    let from_pod = trace(
        &[&t],
        Hook::Prerouting,
        &on_node(Packet::tcp(ip(POD), ip(NODE_IP), 30016)),
    );
    assert_eq!(
        dnat_targets(&from_pod),
        BTreeSet::from(["10.244.2.16:8080".to_owned()])
    );
}

#[test]
fn service_without_endpoints_rejects_new_connections_with_a_reset() {
    let t = table();
    let pkt = on_node(Packet::tcp(ip(POD), ip("10.96.0.12"), 80));
    let out = trace(&[&t], Hook::Output, &pkt);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].fate,
        Fate::Reject(RejectWith::TcpReset),
        "{}",
        out[0]
    );
    let established = pkt.with_ct_state(ct_state::ESTABLISHED);
    assert_eq!(
        trace(&[&t], Hook::Output, &established)[0].fate,
        Fate::Accept
    );
}

#[test]
fn load_balancer_source_ranges_drop_other_clients() {
    let t = table();
    let lb = "172.18.255.200";
    let outs = trace(
        &[&t],
        Hook::Prerouting,
        &on_node(Packet::tcp(ip("198.51.100.7"), ip(lb), 80)),
    );
    assert!(outs.iter().all(|o| o.fate == Fate::Drop), "{outs:#?}");
}
