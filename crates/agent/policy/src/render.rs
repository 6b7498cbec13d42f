//! Cluster → the desired `table inet podnet-policy` of one node (pure; golden-tested, and
//! traced with podnet-nft's packet tracer against the evaluator).
//!
//! ```text
//! chain egress  (filter, hook forward, priority 0)   chain ingress (filter, hook forward, priority 1)
//!   ct state established,related accept                ct state established,related accept
//!   ip saddr vmap @egress-pods                         ip daddr vmap @ingress-pods
//!        │ pod IP : goto pod/NS/NAME/egress                 │ pod IP : goto pod/NS/NAME/ingress
//!        ▼                                                  ▼
//!   pod/NS/NAME/DIR: jump cnp/ADMIN/DIR (the Admin tier's policies selecting the pod, by
//!        │            priority) … goto pod/NS/NAME/DIR/np (only with Admin policies)
//!        ▼
//!   (pod/NS/NAME/DIR/np:) jump np/NS/POLICY/DIR (each policy isolating the pod) … counter drop
//!                    or, if none isolates it: jump cnp/BASELINE/DIR … (accept)
//!   np/NS/POLICY/DIR: one rule per (peer kind × port) of each policy rule: counter accept
//!   cnp/NAME/DIR: one rule per (peer kind × port) of each rule: counter accept | drop |
//!        Pass: ip daddr vmap @ingress-pass (subject → goto pod/NS/NAME/DIR/np)
//! ```
//!
//! The forward hook sees pod traffic after the service proxy's DNAT (prerouting), routed
//! across nodes and bridged on one node alike (br_netfilter hands bridged IPv4 to the `inet`
//! hooks). `accept` in a policy chain ends that base chain only, so egress and ingress are
//! two base chains: a same-node connection must pass both. Traffic from the node itself
//! (kubelet probes) leaves through output, not forward, so it is never filtered, as upstream
//! requires. Peers are sets keyed by address, subjects a verdict map keyed by address: a new
//! pod is set elements, never a new rule. IPv4 only for now.

mod cnp;
mod names;
mod rules;

use podnet_nft::expr::{CtKey, Expr, IpField, Match, Selector, VmapRef};
use podnet_nft::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl, Table};
use podnet_nft::types::{DataType, Family, Value, ct_state};

pub use names::{cluster_policy_chain, pod_after_admin_chain, pod_chain, policy_chain, rule_set};

use crate::cluster::Cluster;
use crate::cluster_policy::ClusterTier;
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
            pod_chains(&mut t, cluster, pod, direction, node);
        }
    }
    t
}

/// `pod/NS/NAME/DIR`, entered from the base chain's map: the Admin tier's policies in order,
/// then NetworkPolicy's (and the final drop) when any isolates the pod, else the Baseline
/// tier's. With Admin policies the tiers after Admin are a chain of their own,
/// `pod/NS/NAME/DIR/np`, which an Admin Pass goes to; it ends in a verdict, so that nothing
/// returns into the Admin tier.
fn pod_chains(t: &mut Table, cluster: &Cluster, pod: &Pod, direction: Direction, node: &str) {
    let admin = cluster.cluster_tier(pod, direction, ClusterTier::Admin);
    let policies: Vec<_> = cluster.isolating(pod, direction).collect();
    let baseline = cluster.cluster_tier(pod, direction, ClusterTier::Baseline);
    if admin.is_empty() && policies.is_empty() && baseline.is_empty() {
        return;
    }
    let ip = pod.policy_ip().expect("local pods have one");
    let mut after_admin: Vec<Rule> = Vec::new();
    if policies.is_empty() {
        for policy in &baseline {
            after_admin.push(Rule::new(vec![Expr::jump(&cnp::chain(policy, direction))]));
        }
    } else {
        for policy in &policies {
            after_admin.push(Rule::new(vec![Expr::jump(&policy_chain(
                &policy.id, direction,
            ))]));
        }
        after_admin.push(
            Rule::new(vec![
                Expr::Counter,
                Expr::Verdict(podnet_nft::expr::Verdict::Drop),
            ])
            .with_comment(&format!("{} {direction}: no policy allows", pod.id)),
        );
    }
    let chain = pod_chain(&pod.id, direction);
    if admin.is_empty() {
        let c = t.chain(ChainDecl::regular(&chain));
        for r in after_admin {
            c.rule(r);
        }
    } else {
        let rest = pod_after_admin_chain(&pod.id, direction);
        let c = t.chain(ChainDecl::regular(&chain));
        for policy in &admin {
            c.rule(Rule::new(vec![Expr::jump(&cnp::chain(policy, direction))]));
        }
        c.rule(Rule::new(vec![Expr::goto(&rest)]));
        let c = t.chain(ChainDecl::regular(&rest));
        let ends_in_drop = !policies.is_empty();
        for r in after_admin {
            c.rule(r);
        }
        if !ends_in_drop {
            c.rule(Rule::new(vec![podnet_nft::build::accept()]));
        }
        let map = cnp::pass_map(direction);
        if !t.sets.contains_key(map) {
            t.set(
                SetDecl::vmap(map, vec![DataType::Ipv4Addr])
                    .with_comment(&format!("where an Admin Pass goes, by {direction} subject")),
            );
        }
        t.sets.get_mut(map).expect("declared above").element(
            Element::verdict(Value::ip(ip), podnet_nft::build::goto(&rest))
                .with_comment(&pod.id.to_string()),
        );
    }
    t.sets
        .get_mut(subject_map(direction))
        .expect("declared by base_chain")
        .element(
            Element::verdict(Value::ip(ip), podnet_nft::build::goto(&chain))
                .with_comment(&pod.id.to_string()),
        );
    for policy in policies {
        if !t.chains.contains_key(&policy_chain(&policy.id, direction)) {
            rules::policy_chain(t, cluster, policy, direction, node);
        }
    }
    for policy in admin.into_iter().chain(baseline) {
        if !t.chains.contains_key(&cnp::chain(policy, direction)) {
            cnp::declare(t, cluster, policy, direction, node);
        }
    }
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
