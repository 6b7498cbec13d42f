//! ClusterNetworkPolicy on network-policy-api's conformance model (the houses: gryffindor,
//! slytherin, hufflepuff, ravenclaw), tests named after the v0.2.0 conformance suite's
//! (`CNPAdminTierIngressTCP` → `cnp_admin_tier_ingress_tcp`), their subtests in order with
//! the same policy mutations between them. Every poke is answered by the evaluator AND by
//! the packet tracer over both nodes' rendered tables (through the validating fake), which
//! must agree.

mod support;

use std::net::IpAddr;

use podnet_agent_policy::cluster_policy::{ClusterNetworkPolicy, from_object};
use podnet_agent_policy::fixture::{NODES, house_namespace, houses};
use podnet_agent_policy::render::render;
use podnet_agent_policy::{Cluster, Flow, Protocol, Verdict, evaluate};
use serde_json::{Value, json};
use support::{policy, through_fake, traced};

/// A ClusterNetworkPolicy from its JSON spec.
fn cnp(name: &str, spec: Value) -> ClusterNetworkPolicy {
    from_object(&json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// `{"namespaces": {"matchLabels": {"conformance-house": house}}}`.
fn house(house: &str) -> Value {
    json!({"namespaces": {"matchLabels": {"conformance-house": house}}})
}

fn address(c: &Cluster, pod: &str) -> IpAddr {
    c.pods
        .values()
        .find(|p| p.id.name == pod)
        .and_then(|p| p.ip)
        .unwrap_or_else(|| pod.parse().expect("a pod of the model or an address"))
}

/// Whether `from`'s connection to `to` on `protocol`/`port` passes: the evaluator's answer,
/// which the rendered tables must give too.
fn poke(c: &Cluster, from: &str, to: &str, protocol: Protocol, port: u16) -> bool {
    let flow = Flow {
        src: address(c, from),
        dst: address(c, to),
        protocol,
        port,
    };
    let decision = evaluate(c, &flow);
    let tables: Vec<_> = NODES
        .iter()
        .map(|n| ((*n).to_owned(), through_fake(&render(c, n))))
        .collect();
    assert_eq!(
        traced(&tables, c, &flow),
        decision.allowed(),
        "{from} → {to} {protocol}/{port}: the rendering disagrees with the evaluator ({decision})"
    );
    decision.allowed()
}

/// The ordering suites' policy (conformance/base/admin_tier/standard-*-rules.yaml): for
/// `subject`'s pods in `direction`, rules about ravenclaw (Accept, Deny, Pass everything),
/// slytherin (Deny, Pass at `deny_port`), hufflepuff or gryffindor (`accept`: Accept at
/// `accept_port`, Deny everything else).
struct Ordering {
    direction: &'static str,
    subject: &'static str,
    accept: &'static str,
    protocol: Protocol,
    accept_port: u16,
    deny_port: u16,
    /// Where `accept`'s pods are denied (not `accept_port`).
    accept_other: u16,
    /// Where slytherin's pods are allowed (not `deny_port`).
    deny_other: u16,
}

impl Ordering {
    fn policy(&self, tier: &str, rules: &[usize]) -> ClusterNetworkPolicy {
        let peers = if self.direction == "ingress" {
            "from"
        } else {
            "to"
        };
        let proto = self.protocol.to_string().to_lowercase();
        let at = |port: u16| json!([{proto.as_str(): {"destinationPort": {"number": port}}}]);
        let all = [
            json!({"name": "accept-ravenclaw", "action": "Accept", peers: [house("ravenclaw")]}),
            json!({"name": "deny-ravenclaw", "action": "Deny", peers: [house("ravenclaw")]}),
            json!({"name": "pass-ravenclaw", "action": "Pass", peers: [house("ravenclaw")]}),
            json!({"name": "deny-slytherin-at", "action": "Deny", peers: [house("slytherin")], "protocols": at(self.deny_port)}),
            json!({"name": "pass-slytherin-at", "action": "Pass", peers: [house("slytherin")], "protocols": at(self.deny_port)}),
            json!({"name": "accept-at", "action": "Accept", peers: [house(self.accept)], "protocols": at(self.accept_port)}),
            json!({"name": "deny-everything-else", "action": "Deny", peers: [house(self.accept)]}),
        ];
        let rules: Vec<Value> = rules.iter().map(|i| all[*i].clone()).collect();
        cnp(
            "ordering",
            json!({"tier": tier, "priority": 3, "subject": {"namespaces": {"matchLabels":
                {"kubernetes.io/metadata.name": house_namespace(self.subject)}}},
                   self.direction: rules}),
        )
    }

    /// A poke between `subject`'s pod and `other`'s, in the policy's direction.
    fn poke(&self, c: &Cluster, subject: &str, other: &str, port: u16) -> bool {
        if self.direction == "ingress" {
            poke(c, other, subject, self.protocol, port)
        } else {
            poke(c, subject, other, self.protocol, port)
        }
    }

    /// The Admin suites' six subtests; the mutations (rule swaps) accumulate as upstream's do.
    fn admin(&self, pods: [&str; 5]) {
        let [subject, raven, slyth, accept_house, _] = pods;
        let mut c = houses();
        let mut order = vec![0, 1, 2, 3, 4, 5, 6];
        c.add_cluster_policy(self.policy("Admin", &order));
        // allow … ensure rule ordering is respected
        assert!(self.poke(&c, subject, raven, self.accept_port));
        assert!(self.poke(&c, subject, raven, self.accept_other));
        // allow … at the specified port
        assert!(self.poke(&c, subject, accept_house, self.accept_port));
        assert!(!self.poke(&c, subject, accept_house, self.accept_other));
        // deny … ensure rule ordering is respected (rules 0 and 1 swapped)
        order.swap(0, 1);
        c.add_cluster_policy(self.policy("Admin", &order));
        assert!(!self.poke(&c, subject, raven, self.accept_port));
        assert!(!self.poke(&c, subject, raven, self.accept_other));
        // deny … at the specified port
        assert!(!self.poke(&c, subject, slyth, self.deny_port));
        assert!(self.poke(&c, subject, slyth, self.deny_other));
        // pass … ensure rule ordering is respected (rules 0 and 2 swapped): the next tiers
        // have nothing, so it passes
        order.swap(0, 2);
        c.add_cluster_policy(self.policy("Admin", &order));
        assert!(self.poke(&c, subject, raven, self.accept_port));
        assert!(self.poke(&c, subject, raven, self.accept_other));
        // pass … at the specified port (rules 3 and 4 swapped)
        order.swap(3, 4);
        c.add_cluster_policy(self.policy("Admin", &order));
        assert!(self.poke(&c, subject, slyth, self.deny_port));
        assert!(self.poke(&c, subject, slyth, self.deny_other));
    }

    /// The Baseline suites' four subtests (no Pass rules).
    fn baseline(&self, pods: [&str; 5]) {
        let [subject, raven, slyth, accept_house, _] = pods;
        let mut c = houses();
        let mut order = vec![0, 1, 3, 5, 6];
        c.add_cluster_policy(self.policy("Baseline", &order));
        assert!(self.poke(&c, subject, raven, self.accept_port));
        assert!(self.poke(&c, subject, accept_house, self.accept_port));
        assert!(!self.poke(&c, subject, accept_house, self.accept_other));
        order.swap(0, 1);
        c.add_cluster_policy(self.policy("Baseline", &order));
        assert!(!self.poke(&c, subject, raven, self.accept_port));
        assert!(!self.poke(&c, subject, slyth, self.deny_port));
        assert!(self.poke(&c, subject, slyth, self.deny_other));
    }
}

const INGRESS_PODS: [&str; 5] = [
    "harry-potter-0",
    "luna-lovegood-0",
    "draco-malfoy-1",
    "cedric-diggory-0",
    "",
];
const EGRESS_PODS: [&str; 5] = [
    "cedric-diggory-0",
    "luna-lovegood-1",
    "draco-malfoy-0",
    "harry-potter-1",
    "",
];

/// The ingress suites: the port rules name one port, `port`.
fn ingress(protocol: Protocol, port: u16, other: u16) -> Ordering {
    Ordering {
        direction: "ingress",
        subject: "gryffindor",
        accept: "hufflepuff",
        protocol,
        accept_port: port,
        deny_port: port,
        accept_other: other,
        deny_other: other,
    }
}

/// The egress suites: the Accept names one port, the Deny and Pass the other.
fn egress(protocol: Protocol, accept_port: u16, deny_port: u16) -> Ordering {
    Ordering {
        direction: "egress",
        subject: "hufflepuff",
        accept: "gryffindor",
        protocol,
        accept_port,
        deny_port,
        accept_other: deny_port,
        deny_other: accept_port,
    }
}

#[test]
fn cnp_admin_tier_ingress_tcp() {
    ingress(Protocol::Tcp, 80, 8080).admin(INGRESS_PODS);
}

#[test]
fn cnp_admin_tier_ingress_udp() {
    ingress(Protocol::Udp, 53, 5353).admin(INGRESS_PODS);
}

#[test]
fn cnp_admin_tier_ingress_sctp() {
    ingress(Protocol::Sctp, 9003, 9005).admin(INGRESS_PODS);
}

#[test]
fn cnp_admin_tier_egress_tcp() {
    egress(Protocol::Tcp, 80, 8080).admin(EGRESS_PODS);
}

#[test]
fn cnp_admin_tier_egress_udp() {
    egress(Protocol::Udp, 53, 5353).admin(EGRESS_PODS);
}

#[test]
fn cnp_admin_tier_egress_sctp() {
    egress(Protocol::Sctp, 9003, 9005).admin(EGRESS_PODS);
}

#[test]
fn cnp_baseline_tier_ingress_tcp() {
    ingress(Protocol::Tcp, 80, 8080).baseline(INGRESS_PODS);
}

#[test]
fn cnp_baseline_tier_egress_udp() {
    egress(Protocol::Udp, 53, 5353).baseline(EGRESS_PODS);
}

/// CNPAdminTierIntegration (conformance/base/api_integration/standard-anp-np-banp.yaml): an
/// Admin Deny between gryffindor and slytherin beats gryffindor's NetworkPolicy allowing
/// them; turned into a Pass, the NetworkPolicy decides; with the NetworkPolicy gone, the
/// Baseline Deny does.
#[test]
fn cnp_admin_tier_integration() {
    let admin = |action: &str| {
        cnp(
            "pass-example",
            json!({"tier": "Admin", "priority": 10, "subject": house("gryffindor"),
               "ingress": [{"name": "slytherin-in", "action": action, "from": [house("slytherin")]}],
               "egress": [{"name": "slytherin-out", "action": action, "to": [house("slytherin")]}]}),
        )
    };
    let np = policy(
        &house_namespace("gryffindor"),
        "allow-gress-from-to-slytherin-to-gryffindor",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"conformance-house": "slytherin"}}}]}],
               "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"conformance-house": "slytherin"}}}]}]}),
    );
    let baseline = cnp(
        "default",
        json!({"tier": "Baseline", "priority": 10, "subject": house("gryffindor"),
               "ingress": [{"action": "Deny", "from": [house("slytherin")]}],
               "egress": [{"action": "Deny", "to": [house("slytherin")]}]}),
    );
    let mut c = houses();
    c.add_cluster_policy(admin("Deny"))
        .add_cluster_policy(baseline)
        .add_policy(np.clone());
    let tcp = Protocol::Tcp;
    // Should Deny traffic from slytherin to gryffindor respecting admin CNP
    assert!(!poke(&c, "draco-malfoy-0", "harry-potter-0", tcp, 80));
    let flow = Flow {
        src: address(&c, "draco-malfoy-0"),
        dst: address(&c, "harry-potter-0"),
        protocol: tcp,
        port: 80,
    };
    assert!(
        matches!(&evaluate(&c, &flow).ingress, Verdict::DeniedBy(r) if r.policy.name == "pass-example"),
        "the Admin rule decides"
    );
    // Should Deny traffic to slytherin from gryffindor respecting admin CNP
    assert!(!poke(
        &c,
        "harry-potter-1",
        "draco-malfoy-1",
        Protocol::Udp,
        53
    ));
    // Should support a 'pass-ingress'/'pass-egress' policy for admin CNP and respect the
    // match for network policy
    c.add_cluster_policy(admin("Pass"));
    assert!(poke(&c, "draco-malfoy-0", "harry-potter-0", tcp, 80));
    assert!(poke(
        &c,
        "harry-potter-1",
        "draco-malfoy-1",
        Protocol::Udp,
        53
    ));
    // … and respect the match for baseline cluster network policy
    c.policies.remove(&np.id);
    assert!(!poke(&c, "draco-malfoy-0", "harry-potter-0", tcp, 80));
    assert!(!poke(
        &c,
        "harry-potter-1",
        "draco-malfoy-1",
        Protocol::Udp,
        53
    ));
    assert!(
        poke(&c, "cedric-diggory-0", "harry-potter-0", tcp, 80),
        "others unaffected"
    );
}

/// CNPAdminTierPriorityField: a Deny at priority 50 wins over a Pass at 60; the Pass moved
/// to 40 wins, handing both directions over to the Baseline Accept.
#[test]
fn cnp_admin_tier_priority_field() {
    let gryffindor = json!({"pods": {"namespaceSelector": {"matchLabels": {"conformance-house": "gryffindor"}},
                                     "podSelector": {"matchLabels": {"conformance-house": "gryffindor"}}}});
    let slytherin = json!({"pods": {"namespaceSelector": {"matchLabels": {"conformance-house": "slytherin"}},
                                    "podSelector": {"matchLabels": {"conformance-house": "slytherin"}}}});
    let subject = gryffindor["pods"].clone();
    let admin = |name: &str, priority: u32, action: &str| {
        cnp(
            name,
            json!({"tier": "Admin", "priority": priority, "subject": {"pods": subject},
                   "ingress": [{"action": action, "from": [slytherin]}],
                   "egress": [{"action": action, "to": [slytherin]}]}),
        )
    };
    let mut c = houses();
    c.add_cluster_policy(admin("priority-50-example", 50, "Deny"))
        .add_cluster_policy(admin("old-priority-60-new-priority-40-example", 60, "Pass"))
        .add_cluster_policy(cnp(
            "default",
            json!({"tier": "Baseline", "priority": 10, "subject": {"pods": gryffindor["pods"]},
                   "ingress": [{"action": "Accept", "from": [slytherin]}],
                   "egress": [{"action": "Accept", "to": [slytherin]}]}),
        ));
    assert!(!poke(
        &c,
        "draco-malfoy-0",
        "harry-potter-0",
        Protocol::Tcp,
        80
    ));
    assert!(!poke(
        &c,
        "harry-potter-0",
        "draco-malfoy-1",
        Protocol::Sctp,
        9003
    ));
    c.add_cluster_policy(admin("old-priority-60-new-priority-40-example", 40, "Pass"));
    assert!(poke(
        &c,
        "draco-malfoy-0",
        "harry-potter-0",
        Protocol::Tcp,
        80
    ));
    assert!(poke(
        &c,
        "harry-potter-0",
        "draco-malfoy-1",
        Protocol::Sctp,
        9003
    ));
}

/// CNPAdminTierEgressInlineCIDRPeers: Accept slytherin's pods, Deny 0.0.0.0/0 (and ::/0);
/// then an Accept of two pods' addresses inserted first.
#[test]
fn cnp_admin_tier_egress_inline_cidr_peers() {
    let slytherin = json!({"pods": {"namespaceSelector": {"matchLabels": {"conformance-house": "slytherin"}},
                                    "podSelector": {"matchLabels": {"conformance-house": "slytherin"}}}});
    let mut rules = vec![
        json!({"name": "allow-egress-to-slytherin", "action": "Accept", "to": [slytherin]}),
        json!({"name": "deny-egress-to-internet", "action": "Deny", "to": [{"networks": ["0.0.0.0/0", "::/0"]}]}),
    ];
    let policy = |rules: &[Value]| {
        cnp(
            "inline-cidr-as-peers-example",
            json!({"tier": "Admin", "priority": 85, "subject": house("gryffindor"), "egress": rules}),
        )
    };
    let mut c = houses();
    c.add_cluster_policy(policy(&rules));
    let probes = [
        (Protocol::Tcp, 80),
        (Protocol::Udp, 53),
        (Protocol::Sctp, 9003),
    ];
    for (protocol, port) in probes {
        assert!(!poke(
            &c,
            "harry-potter-1",
            "luna-lovegood-0",
            protocol,
            port
        ));
        assert!(!poke(
            &c,
            "harry-potter-1",
            "cedric-diggory-0",
            protocol,
            port
        ));
        assert!(!poke(&c, "harry-potter-1", "203.0.113.10", protocol, port));
        assert!(poke(&c, "harry-potter-1", "draco-malfoy-0", protocol, port));
    }
    let (luna, cedric) = (
        address(&c, "luna-lovegood-0"),
        address(&c, "cedric-diggory-0"),
    );
    rules.insert(
        0,
        json!({"name": "allow-egress-to-specific-podIPs", "action": "Accept",
               "to": [{"networks": [format!("{luna}/32"), format!("{cedric}/32")]}]}),
    );
    c.add_cluster_policy(policy(&rules));
    for (protocol, port) in probes {
        assert!(poke(
            &c,
            "harry-potter-1",
            "luna-lovegood-0",
            protocol,
            port
        ));
        assert!(poke(
            &c,
            "harry-potter-1",
            "cedric-diggory-0",
            protocol,
            port
        ));
        assert!(!poke(
            &c,
            "harry-potter-1",
            "luna-lovegood-1",
            protocol,
            port
        ));
    }
}

/// CNPAdminTierIngressNamedPort / CNPBaselineTierEgressNamedPort: `destinationNamedPort`
/// resolves on the destination pod (`web` is TCP 80, `dns` UDP 53).
#[test]
fn cnp_admin_tier_ingress_named_port_and_baseline_tier_egress_named_port() {
    let mut c = houses();
    c.add_cluster_policy(cnp(
        "named-in",
        json!({"tier": "Admin", "priority": 1, "subject": house("gryffindor"),
               "ingress": [{"action": "Accept", "from": [house("ravenclaw")], "protocols": [{"destinationNamedPort": "web"}]},
                           {"action": "Deny", "from": [house("ravenclaw")]}]}),
    ));
    assert!(poke(
        &c,
        "luna-lovegood-0",
        "harry-potter-0",
        Protocol::Tcp,
        80
    ));
    assert!(!poke(
        &c,
        "luna-lovegood-0",
        "harry-potter-0",
        Protocol::Tcp,
        8080
    ));
    assert!(!poke(
        &c,
        "luna-lovegood-0",
        "harry-potter-1",
        Protocol::Udp,
        53
    ));
    c.add_cluster_policy(cnp(
        "named-out",
        json!({"tier": "Baseline", "priority": 1, "subject": house("hufflepuff"),
               "egress": [{"action": "Accept", "to": [house("slytherin")], "protocols": [{"destinationNamedPort": "dns"}]},
                          {"action": "Deny", "to": [house("slytherin")]}]}),
    ));
    assert!(poke(
        &c,
        "cedric-diggory-1",
        "draco-malfoy-0",
        Protocol::Udp,
        53
    ));
    assert!(!poke(
        &c,
        "cedric-diggory-1",
        "draco-malfoy-0",
        Protocol::Udp,
        5353
    ));
    assert!(!poke(
        &c,
        "cedric-diggory-1",
        "draco-malfoy-0",
        Protocol::Tcp,
        80
    ));
}

/// CNPAdminTierEgressNodePeers / CNPBaselineTierEgressNodePeers: `nodes` selects the nodes'
/// addresses by the nodes' labels, for Accept, Pass and Deny.
#[test]
fn cnp_admin_tier_egress_node_peers() {
    let node_2 = "172.18.0.4";
    let rules = |action: &str| {
        cnp(
            "node-peers",
            json!({"tier": "Admin", "priority": 1, "subject": house("gryffindor"),
                   "egress": [{"action": action, "to": [{"nodes": {"matchLabels": {"kubernetes.io/hostname": NODES[1]}}}]},
                              {"action": "Deny", "to": [{"networks": ["172.18.0.0/16"]}]}]}),
        )
    };
    let mut c = houses();
    c.add_cluster_policy(rules("Accept"));
    assert!(poke(&c, "harry-potter-0", node_2, Protocol::Tcp, 10250));
    assert!(!poke(
        &c,
        "harry-potter-0",
        "172.18.0.3",
        Protocol::Tcp,
        10250
    ));
    c.add_cluster_policy(rules("Pass"));
    assert!(poke(&c, "harry-potter-0", node_2, Protocol::Tcp, 10250));
    c.add_cluster_policy(cnp(
        "baseline-node-peers",
        json!({"tier": "Baseline", "priority": 1, "subject": house("gryffindor"),
               "egress": [{"action": "Deny", "to": [{"nodes": {}}]}]}),
    ));
    assert!(
        !poke(&c, "harry-potter-0", node_2, Protocol::Tcp, 10250),
        "passed to the Baseline Deny"
    );
    c.add_cluster_policy(rules("Deny"));
    assert!(!poke(&c, "harry-potter-0", node_2, Protocol::Udp, 53));
}

/// What the CRD's validation refuses is an error; a peer of a kind podnet does not know
/// fails closed.
#[test]
fn invalid_policies_are_errors_and_unknown_peers_fail_closed() {
    let bad = |spec: Value| {
        from_object(&json!({"metadata": {"name": "p"}, "spec": spec}))
            .unwrap_err()
            .to_string()
    };
    assert!(
        bad(json!({"tier": "Middle", "priority": 1, "subject": house("x")})).contains("spec.tier")
    );
    assert!(
        bad(json!({"tier": "Admin", "priority": 1001, "subject": house("x")}))
            .contains("spec.priority")
    );
    assert!(bad(json!({"tier": "Admin", "priority": 1, "subject": {}})).contains("spec.subject"));
    let deny_unknown = cnp(
        "fail-closed",
        json!({"tier": "Admin", "priority": 1, "subject": house("gryffindor"),
               "egress": [{"action": "Pass", "to": [{"domainNames": ["example.com"]}]}]}),
    );
    let mut c = houses();
    c.add_cluster_policy(deny_unknown);
    assert!(
        !poke(&c, "harry-potter-0", "draco-malfoy-0", Protocol::Tcp, 80),
        "a Pass of an unknown peer denies all"
    );
    let accept_unknown = cnp(
        "fail-closed",
        json!({"tier": "Admin", "priority": 1, "subject": house("gryffindor"),
               "egress": [{"action": "Accept", "to": [{"domainNames": ["example.com"]}]},
                          {"action": "Deny", "to": [house("slytherin")]}]}),
    );
    c.add_cluster_policy(accept_unknown);
    assert!(
        !poke(&c, "harry-potter-0", "draco-malfoy-0", Protocol::Tcp, 80),
        "an Accept of an unknown peer matches nothing"
    );
    assert!(poke(
        &c,
        "harry-potter-0",
        "cedric-diggory-0",
        Protocol::Tcp,
        80
    ));
}
