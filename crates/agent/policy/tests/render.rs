//! The rendered table: a golden view, the validating fake's acceptance, incremental updates
//! as set elements, and the packet tracer agreeing with the evaluator on every flow of
//! upstream's model under many policies.

mod support;

use std::net::IpAddr;
use std::path::PathBuf;

use podnet_agent_policy::fixture::{NODES, PORTS, PROTOCOLS, upstream_model};
use podnet_agent_policy::model::ObjectRef;
use podnet_agent_policy::render::{TABLE, render};
use podnet_agent_policy::{Cluster, Flow, NetworkPolicy, evaluate};
use podnet_nft::object::{Table, TableId};
use podnet_nft::transaction::Op;
use podnet_nft::types::Family;
use podnet_nft::{Executor, Fake, diff};
use serde_json::json;
use support::{policy, through_fake, traced};

/// An address outside the cluster (the lab's external host).
const EXTERNAL: [u8; 4] = [203, 0, 113, 10];

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        actual,
        want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// Policies that use every rule shape, over namespaces x, y and z.
fn every_shape() -> Vec<NetworkPolicy> {
    vec![
        policy(
            "x",
            "deny-all",
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        policy(
            "x",
            "a-from-b-and-y-c",
            json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
                {"podSelector": {"matchLabels": {"pod": "b"}}},
                {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "c"}}}
            ], "ports": [{"port": 80}, {"protocol": "UDP", "port": 80, "endPort": 81}]}]}),
        ),
        policy(
            "x",
            "b-named",
            json!({"podSelector": {"matchLabels": {"pod": "b"}}, "ingress": [{"ports": [
                {"port": "serve-81-tcp"}, {"protocol": "SCTP"}]}]}),
        ),
        policy(
            "x",
            "egress",
            json!({"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "c"]}]},
                   "egress": [
                       {"to": [{"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]}}],
                        "ports": [{"port": "serve-80-udp", "protocol": "UDP"}, {"port": 81}]},
                       {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}},
                               {"ipBlock": {"cidr": "203.0.113.0/24"}}]}]}),
        ),
        policy(
            "y",
            "deny-egress-b",
            json!({"podSelector": {"matchLabels": {"pod": "b"}}, "policyTypes": ["Egress"],
                   "egress": [{"to": [{"podSelector": {}}]}]}),
        ),
        policy(
            "z",
            "from-x",
            json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "x"}}}]}]}),
        ),
    ]
}

fn with(policies: Vec<NetworkPolicy>) -> Cluster {
    let mut c = upstream_model();
    for p in policies {
        c.add_policy(p);
    }
    c
}

#[test]
fn every_shape_table_on_node_1() {
    let c = with(every_shape());
    golden(
        "every-shape-node-1.table",
        &render(&c, NODES[0]).to_string(),
    );
}

#[test]
fn no_policy_is_an_empty_skeleton() {
    let t = render(&upstream_model(), NODES[0]);
    assert_eq!(t.id, TableId::new(Family::Inet, TABLE));
    assert!(t.sets.values().all(|s| s.elements.is_empty()));
    assert_eq!(t.chains.len(), 2, "the two base chains only");
}

fn agree(c: &Cluster) {
    let tables: Vec<(String, Table)> = NODES
        .iter()
        .map(|n| ((*n).to_owned(), through_fake(&render(c, n))))
        .collect();
    let mut ends: Vec<IpAddr> = c.pods.values().filter_map(|p| p.ip).collect();
    ends.push(IpAddr::from(EXTERNAL));
    let mut checked = 0;
    for &src in &ends {
        for &dst in &ends {
            if src == dst {
                continue;
            }
            for protocol in PROTOCOLS {
                for port in PORTS {
                    let flow = Flow {
                        src,
                        dst,
                        protocol,
                        port,
                    };
                    let decision = evaluate(c, &flow);
                    assert_eq!(
                        traced(&tables, c, &flow),
                        decision.allowed(),
                        "{flow:?}: evaluator says {decision}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, ends.len() * (ends.len() - 1) * 6);
}

#[test]
fn the_tracer_agrees_with_the_evaluator_on_every_flow() {
    agree(&upstream_model());
    agree(&with(every_shape()));
    // Each policy alone, so no other one hides its mistakes.
    for p in every_shape() {
        agree(&with(vec![p]));
    }
}

#[test]
fn a_new_pod_in_a_selected_namespace_is_set_elements_not_rules() {
    let mut c = with(every_shape());
    let mut fake = Fake::new();
    let before = render(&c, NODES[0]);
    fake.execute(&diff(None, &before)).unwrap();
    // A pod d in y on node-2: a peer of z's "from-x"? no; of x's "egress" (not in x): yes.
    let mut d = c.pods[&ObjectRef::new("y", "c")].clone();
    d.id = ObjectRef::new("y", "d");
    d.node = Some(NODES[1].to_owned());
    d.ip = Some("10.244.2.99".parse().unwrap());
    c.add_pod(d);
    let after = render(&c, NODES[0]);
    let tx = diff(fake.dump(&after.id).unwrap().as_ref(), &after);
    assert!(!tx.is_empty());
    assert!(
        tx.ops.iter().all(|op| matches!(op, Op::AddElements { .. })),
        "only elements change: {:?}",
        tx.ops
    );
    fake.execute(&tx).unwrap();
    agree(&c);
}
