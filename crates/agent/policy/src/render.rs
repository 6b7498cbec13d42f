//! Cluster → the desired `table inet podnet-policy` of one node (pure; golden-tested, and
//! traced with podnet-nft's packet tracer against the evaluator).
//!
//! ```text
//! chain egress  (filter, hook forward, priority 0)   chain ingress (filter, hook forward, priority 1)
//!   ct state established,related accept                ct state established,related accept
//!   ip saddr vmap @egress-pods                         ip daddr vmap @ingress-pods
//!        │ pod IP : goto pod/NS/NAME/egress                 │ pod IP : goto pod/NS/NAME/ingress
//!        ▼                                                  ▼
//!   pod/NS/NAME/DIR: jump np/NS/POLICY/DIR (each policy isolating the pod) … counter drop
//!   np/NS/POLICY/DIR: one rule per (peer kind × port) of each policy rule: counter accept
//! ```
//!
//! The forward hook sees pod traffic after the service proxy's DNAT (prerouting), routed
//! across nodes and bridged on one node alike (br_netfilter hands bridged IPv4 to the `inet`
//! hooks). `accept` in a policy chain ends that base chain only, so egress and ingress are
//! two base chains: a same-node connection must pass both. Traffic from the node itself
//! (kubelet probes) leaves through output, not forward, so it is never filtered, as upstream
//! requires. Peers are sets keyed by address, subjects a verdict map keyed by address: a new
//! pod is set elements, never a new rule. IPv4 only for now.

mod names;
mod rules;

use podnet_nft::expr::{CtKey, Expr, IpField, Match, Selector, VmapRef};
use podnet_nft::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl, Table};
use podnet_nft::types::{DataType, Family, Value, ct_state};

pub use names::{pod_chain, policy_chain, rule_set};

use crate::cluster::Cluster;
use crate::model::{Direction, Pod};

/// The table podnet's policy lives in (never the proxy's).
pub const TABLE: &str = "podnet-policy";

/// The base chains, after the proxy's filter chains in the same hook.
const EGRESS_PRIORITY: i32 = 0;
const INGRESS_PRIORITY: i32 = 1;

/// The desired policy table of `node`: its pods' isolation, the policies that select them.
pub fn render(cluster: &Cluster, node: &str) -> Table {
    let mut t = Table::new(Family::Inet, TABLE);
    t.comment = Some("podnet NetworkPolicy".to_owned());
    let local: Vec<&Pod> = cluster
        .pods
        .values()
        .filter(|p| p.node.as_deref() == Some(node) && p.policy_ip().is_some_and(|ip| ip.is_ipv4()))
        .collect();
    for direction in [Direction::Egress, Direction::Ingress] {
        base_chain(&mut t, direction);
        for pod in &local {
            let policies: Vec<_> = cluster.isolating(pod, direction).collect();
            if policies.is_empty() {
                continue;
            }
            let chain = pod_chain(&pod.id, direction);
            let c = t.chain(ChainDecl::regular(&chain));
            for policy in &policies {
                c.rule(Rule::new(vec![Expr::jump(&policy_chain(
                    &policy.id, direction,
                ))]));
            }
            c.rule(
                Rule::new(vec![
                    Expr::Counter,
                    Expr::Verdict(podnet_nft::expr::Verdict::Drop),
                ])
                .with_comment(&format!("{} {direction}: no policy allows", pod.id)),
            );
            let ip = pod.policy_ip().expect("local pods have one");
            t.sets
                .get_mut(subject_map(direction))
                .expect("declared by base_chain")
                .element(
                    Element::verdict(Value::ip(ip), podnet_nft::build::goto(&chain))
                        .with_comment(&pod.id.to_string()),
                );
            for policy in policies {
                if !t.chains.contains_key(&policy_chain(&policy.id, direction)) {
                    rules::policy_chain(&mut t, cluster, policy, direction, node);
                }
            }
        }
    }
    t
}

fn subject_map(direction: Direction) -> &'static str {
    match direction {
        Direction::Egress => "egress-pods",
        Direction::Ingress => "ingress-pods",
    }
}

/// `chain egress` / `chain ingress` and the map of the pods they isolate.
fn base_chain(t: &mut Table, direction: Direction) {
    let (priority, field) = match direction {
        Direction::Egress => (EGRESS_PRIORITY, IpField::Saddr),
        Direction::Ingress => (INGRESS_PRIORITY, IpField::Daddr),
    };
    let map = subject_map(direction);
    t.set(
        SetDecl::vmap(map, vec![DataType::Ipv4Addr])
            .with_comment(&format!("pods isolated for {direction}")),
    );
    t.chain(ChainDecl::base(
        direction.name(),
        ChainType::Filter,
        Hook::Forward,
        priority,
        Policy::Accept,
    ))
    .rule(Rule::new(vec![
        Match::eq(
            Selector::Ct(CtKey::State),
            Value::CtState(ct_state::ESTABLISHED | ct_state::RELATED),
        ),
        podnet_nft::build::accept(),
    ]))
    .rule(Rule::new(vec![Expr::Vmap {
        key: vec![Selector::Ip(field)],
        map: VmapRef::Named(map.to_owned()),
    }]));
}
