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
    fake.execute(&transaction::full(d, &Default::default()))
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

fn targets_of(t: &Table, pkt: Packet) -> (BTreeSet<String>, Vec<Outcome>) {
    let outs = trace(&[t], Hook::Prerouting, &on_node(pkt));
    let total: f64 = outs.iter().map(|o| o.probability).sum();
    assert!((total - 1.0).abs() < 1e-9, "{outs:#?}");
    (dnat_targets(&outs), outs)
}

fn set(addrs: &[&str]) -> BTreeSet<String> {
    addrs.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn internal_traffic_policy_local_keeps_cluster_ip_traffic_on_this_node() {
    let t = table();
    let (targets, _) = targets_of(&t, Packet::tcp(ip(POD), ip("10.96.0.17"), 80));
    assert_eq!(targets, set(&["10.244.1.2:8080", "10.244.1.3:8080"]));
}

#[test]
fn prefer_close_keeps_this_zones_endpoints() {
    let t = table();
    let (targets, _) = targets_of(&t, Packet::tcp(ip(POD), ip("10.96.0.19"), 80));
    assert_eq!(targets, set(&["10.244.1.2:8080", "10.244.1.3:8080"]));
}

#[test]
fn only_serving_terminating_endpoints_are_used_when_none_is_ready() {
    let t = table();
    let (targets, _) = targets_of(&t, Packet::tcp(ip(POD), ip("10.96.0.18"), 80));
    assert_eq!(targets, set(&["10.244.1.18:8080"]));
}

/// NodePort and externalIP with Cluster policy: every endpoint, and the packet is marked so
/// its source is masqueraded on the way out (the reply must come back through this node).
#[test]
fn node_port_and_external_ip_reach_every_endpoint_masqueraded() {
    let t = table();
    let all = set(&["10.244.1.2:8080", "10.244.1.3:8080", "10.244.2.2:8080"]);
    for pkt in [
        Packet::tcp(ip(OUTSIDE), ip(NODE_IP), 30014),
        Packet::tcp(ip(OUTSIDE), ip("203.0.113.14"), 80),
    ] {
        let (targets, outs) = targets_of(&t, pkt);
        assert_eq!(targets, all);
        for o in &outs {
            assert_eq!(o.packet.mark & 0x4000, 0x4000, "{o}");
        }
    }
}

/// A LoadBalancer IP with ETP Local, from inside its source ranges: this node's endpoints
/// only, and no masquerade mark (the client IP is kept).
#[test]
fn load_balancer_etp_local_from_an_allowed_source_keeps_the_client_ip() {
    let t = table();
    let (targets, outs) = targets_of(&t, Packet::tcp(ip(OUTSIDE), ip("172.18.255.200"), 80));
    assert_eq!(targets, set(&["10.244.1.2:8080", "10.244.1.3:8080"]));
    assert!(outs.iter().all(|o| o.packet.mark == 0), "{outs:#?}");
}

/// ClientIP affinity: a client already in an endpoint's affinity set goes to that endpoint.
#[test]
fn client_ip_affinity_sends_a_known_client_to_its_endpoint() {
    let mut t = table();
    let (before, _) = targets_of(&t, Packet::tcp(ip(POD), ip("10.96.0.13"), 80));
    assert_eq!(before.len(), 3, "a new client may go anywhere");
    let affinity = t
        .sets
        .values_mut()
        .find(|s| {
            s.decl.name.starts_with("affinity-")
                && s.decl.name.contains("ns1/sticky/tcp/p80__10.244.1.3/")
        })
        .expect("the affinity set of 10.244.1.3");
    affinity.element(podnet_nft::object::Element::key(
        podnet_nft::types::Value::ip(ip(POD)),
    ));
    let (after, _) = targets_of(&t, Packet::tcp(ip(POD), ip("10.96.0.13"), 80));
    assert_eq!(after, set(&["10.244.1.3:8080"]));
}
