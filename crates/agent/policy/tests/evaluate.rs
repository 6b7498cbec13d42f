//! The evaluator against upstream's NetworkPolicy e2e cases (test/e2e/network/netpol/
//! network_policy.go), each named after the upstream test, over upstream's model (namespaces
//! x, y, z; pods a, b, c; ports 80 and 81 over TCP, UDP and SCTP).

mod support;

use podnet_agent_policy::fixture::{Reachability, upstream_model};
use podnet_agent_policy::model::{ObjectRef, Protocol};
use podnet_agent_policy::{Flow, Verdict, evaluate};
use serde_json::json;
use support::{any, check, in_ns, is, policy};

use Protocol::{Sctp, Tcp, Udp};

#[test]
fn should_support_a_default_deny_ingress_policy() {
    let mut c = upstream_model();
    c.add_policy(policy("x", "deny-ingress", json!({"podSelector": {}})));
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    for proto in [Tcp, Udp, Sctp] {
        check(&c, &r, proto, 80);
    }
}

#[test]
fn should_support_a_default_deny_all_policy() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false)
        .expect(in_ns("x"), any, false);
    check(&c, &r, Tcp, 80);
    check(&c, &r, Udp, 81);
}

#[test]
fn should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_pod_selector()
{
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "x-a-allows-x-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(is("x/b"), is("x/a"), true);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_to_allow_ingress_traffic_from_pods_in_all_namespaces() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "allow-all-ns",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {}}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
}

#[test]
fn should_enforce_policy_to_allow_traffic_only_from_a_different_namespace_based_on_namespace_selector()
 {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "allow-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(in_ns("x"), is("x/a"), false)
        .expect(in_ns("z"), is("x/a"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_based_on_pod_selector_with_match_expressions() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "exprs",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchExpressions": [
                   {"key": "pod", "operator": "In", "values": ["b"]}]}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(is("x/b"), is("x/a"), true);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_based_on_namespace_selector_with_match_expressions() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "ns-exprs",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                   {"key": "ns", "operator": "NotIn", "values": ["x"]}]}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(in_ns("x"), is("x/a"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_based_on_pod_selector_or_namespace_selector() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "or",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [
                   {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]}},
                   {"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(is("x/c"), is("x/a"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_based_on_pod_selector_and_namespace_selector() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "and",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{
                   "namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]},
                   "podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(is("y/b"), is("x/a"), true)
        .expect(is("z/b"), is("x/a"), true);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_policy_based_on_ports() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "port-81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                            "ports": [{"port": 81}]}]}),
    ));
    let mut r81 = Reachability::new(true);
    r81.expect(in_ns("x"), is("x/a"), false)
        .expect(in_ns("z"), is("x/a"), false);
    check(&c, &r81, Tcp, 81);
    let mut r80 = Reachability::new(true);
    r80.expect(any, is("x/a"), false);
    check(&c, &r80, Tcp, 80);
}

#[test]
fn should_enforce_multiple_stacked_policies_with_overlapping_pod_selectors() {
    let mut c = upstream_model();
    for (name, port) in [("allow-80", 80), ("allow-81", 81)] {
        c.add_policy(policy(
            "x",
            name,
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                                "ports": [{"port": port}]}]}),
        ));
    }
    let mut r = Reachability::new(true);
    r.expect(in_ns("x"), is("x/a"), false)
        .expect(in_ns("z"), is("x/a"), false);
    check(&c, &r, Tcp, 80);
    check(&c, &r, Tcp, 81);
}

#[test]
fn should_support_allow_all_policy() {
    let mut c = upstream_model();
    c.add_policy(policy("x", "deny", json!({"podSelector": {}})));
    c.add_policy(policy(
        "x",
        "allow-all",
        json!({"podSelector": {}, "ingress": [{}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
}

#[test]
fn should_allow_ingress_access_on_one_named_port() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "named",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 81);
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    check(&c, &r, Tcp, 80);
    check(&c, &r, Udp, 81);
}

#[test]
fn should_allow_egress_access_on_one_named_port() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "egress-named",
        json!({"podSelector": {}, "policyTypes": ["Egress"],
               "egress": [{"ports": [{"port": "serve-80-udp", "protocol": "UDP"}]}]}),
    ));
    check(&c, &Reachability::new(true), Udp, 80);
    let mut r = Reachability::new(true);
    r.expect(in_ns("x"), any, false);
    check(&c, &r, Tcp, 80);
    check(&c, &r, Udp, 81);
}

#[test]
fn should_enforce_updated_policy() {
    let mut c = upstream_model();
    let before = policy(
        "x",
        "p",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 81}]}]}),
    );
    c.add_policy(before);
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Tcp, 80);
    c.add_policy(policy(
        "x",
        "p",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 80}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
}

#[test]
fn should_allow_ingress_access_from_updated_namespace() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "from-ns2",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns2": "updated"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Tcp, 80);
    c.namespaces
        .get_mut("y")
        .unwrap()
        .labels
        .insert("ns2".into(), "updated".into());
    r.expect(in_ns("y"), is("x/a"), true);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_allow_ingress_access_from_updated_pod() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "from-updated-pod",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b", "pod2": "updated"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Tcp, 80);
    c.pods
        .get_mut(&ObjectRef::new("x", "b"))
        .unwrap()
        .labels
        .insert("pod2".into(), "updated".into());
    r.expect(is("x/b"), is("x/a"), true);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_deny_ingress_access_to_updated_pod() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "deny-target",
        json!({"podSelector": {"matchLabels": {"target": "isolated"}}, "policyTypes": ["Ingress"]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
    c.pods
        .get_mut(&ObjectRef::new("x", "a"))
        .unwrap()
        .labels
        .insert("target".into(), "isolated".into());
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_deny_egress_from_pods_based_on_pod_selector() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "deny-egress-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(is("x/a"), any, false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_support_denying_of_egress_traffic_on_the_client_side_even_if_the_server_explicitly_allows_this_traffic()
 {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "deny-egress-to-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "z"}}}]}]}),
    ));
    c.add_policy(policy(
        "y",
        "allow-from-x-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}},
                                      "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(is("x/a"), any, false)
        .expect(is("x/a"), in_ns("z"), true)
        .expect(any, is("y/a"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "tcp-only",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"ports": [{"protocol": "TCP"}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
    check(&c, &Reachability::new(true), Tcp, 81);
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Udp, 80);
}

#[test]
fn should_not_mistakenly_treat_protocol_sctp_as_protocol_tcp() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "sctp-only",
        json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]}),
    ));
    check(&c, &Reachability::new(true), Sctp, 80);
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_stop_enforcing_policies_after_they_are_deleted() {
    let mut c = upstream_model();
    c.add_policy(policy("x", "deny", json!({"podSelector": {}})));
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    check(&c, &r, Tcp, 80);
    c.policies.remove(&ObjectRef::new("x", "deny"));
    check(&c, &Reachability::new(true), Tcp, 80);
}

#[test]
fn should_enforce_except_clause_while_egress_access_to_server_in_cidr_block() {
    let mut c = upstream_model();
    let ip_b = podnet_agent_policy::fixture::ip_of(&c, "x", "b");
    c.add_policy(policy(
        "x",
        "cidr-except",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                               "except": [format!("{ip_b}/32")]}}]}]}),
    ));
    let mut r = Reachability::new(true);
    r.expect(is("x/a"), is("x/b"), false);
    check(&c, &r, Tcp, 80);
}

#[test]
fn should_ensure_an_ip_overlapping_both_ip_block_cidr_and_ip_block_except_is_allowed() {
    let mut c = upstream_model();
    let ip_b = podnet_agent_policy::fixture::ip_of(&c, "x", "b");
    c.add_policy(policy(
        "x",
        "cidr-except-overlap",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [
                   {"ipBlock": {"cidr": "10.244.0.0/16", "except": [format!("{ip_b}/32")]}},
                   {"ipBlock": {"cidr": format!("{ip_b}/32")}}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
}

#[test]
fn should_enforce_policy_to_allow_ingress_traffic_for_a_target_with_end_port() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "end-port",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"ports": [{"port": 79, "endPort": 80}]}]}),
    ));
    check(&c, &Reachability::new(true), Tcp, 80);
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    check(&c, &r, Tcp, 81);
}

#[test]
fn traffic_from_the_pods_own_node_is_allowed_under_default_deny() {
    let mut c = upstream_model();
    c.add_policy(policy("x", "deny", json!({"podSelector": {}})));
    let a = podnet_agent_policy::fixture::ip_of(&c, "x", "a");
    let node = |i| podnet_agent_policy::fixture::node_ip(i);
    let flow = |src| Flow {
        src,
        dst: a,
        protocol: Tcp,
        port: 80,
    };
    // x/a is on node-1 (172.18.0.3).
    assert_eq!(evaluate(&c, &flow(node(1))).ingress, Verdict::OwnNode);
    assert!(
        !evaluate(&c, &flow(node(2))).allowed(),
        "another node is not exempt"
    );
}

#[test]
fn host_network_pods_are_never_subjects() {
    let mut c = upstream_model();
    c.add_policy(policy(
        "x",
        "deny",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    ));
    let a = c.pods.get_mut(&ObjectRef::new("x", "a")).unwrap();
    a.host_network = true;
    let ip = a.ip.unwrap();
    let d = evaluate(
        &c,
        &Flow {
            src: "10.244.9.9".parse().unwrap(),
            dst: ip,
            protocol: Tcp,
            port: 80,
        },
    );
    assert_eq!(d.ingress, Verdict::NotIsolated);
}

#[test]
fn a_denial_names_the_isolating_policies_and_an_allow_its_rule() {
    let mut c = upstream_model();
    c.add_policy(policy("x", "deny", json!({"podSelector": {}})));
    c.add_policy(policy(
        "x",
        "allow-b",
        json!({"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}, {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    ));
    let ip = |n| podnet_agent_policy::fixture::ip_of(&c, "x", n);
    let d = evaluate(
        &c,
        &Flow {
            src: ip("c"),
            dst: ip("a"),
            protocol: Tcp,
            port: 80,
        },
    );
    assert_eq!(
        d.to_string(),
        "egress not isolated; ingress denied: isolated by x/allow-b, x/deny, no rule allows it"
    );
    let d = evaluate(
        &c,
        &Flow {
            src: ip("b"),
            dst: ip("a"),
            protocol: Tcp,
            port: 80,
        },
    );
    assert_eq!(
        d.ingress.to_string(),
        "allowed by NetworkPolicy x/allow-b ingress rule 1"
    );
}
