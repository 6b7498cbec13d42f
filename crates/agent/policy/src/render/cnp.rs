//! One ClusterNetworkPolicy's chain for one direction, `cnp/NAME/DIR`: per rule, every
//! (peer kind × port) combination as one rule ending in the rule's action — Accept
//! `accept`, Deny `drop`, and Pass a goto, through the `DIR-pass` verdict map keyed by the
//! subject's address, to that pod's chain of the tiers after Admin (in the Baseline tier,
//! where nothing comes after, Pass is `accept`). Every rule counts what it matched, its
//! comment naming the tier, policy, direction, rule and action for the agent's /metrics.

use podnet_nft::expr::{Expr, IpField, Selector, Verdict, VmapRef};
use podnet_nft::object::{ChainDecl, Rule, Table};

use super::names::cluster_policy_chain;
use super::rules::{RuleSets, destinations};
use crate::cluster::Cluster;
use crate::cluster_policy::{Action, ClusterNetworkPolicy, ClusterPeer, ClusterTier};
use crate::model::{Direction, IpBlock, Pod};

/// The verdict map an Admin-tier Pass goes through: subject address → goto its chain of the
/// tiers after Admin.
pub fn pass_map(direction: Direction) -> &'static str {
    match direction {
        Direction::Egress => "egress-pass",
        Direction::Ingress => "ingress-pass",
    }
}

/// The subject's address in `direction`: the source going out, the destination coming in.
pub fn subject_field(direction: Direction) -> IpField {
    match direction {
        Direction::Egress => IpField::Saddr,
        Direction::Ingress => IpField::Daddr,
    }
}

/// Declares `cnp/NAME/DIR` with its sets in `t`.
pub fn declare(
    t: &mut Table,
    cluster: &Cluster,
    policy: &ClusterNetworkPolicy,
    direction: Direction,
    node: &str,
) {
    let name = chain(policy, direction);
    let destinations = destinations(cluster, direction, node, |p| {
        cluster.cluster_selects(policy, p)
    });
    let mut out = Vec::new();
    for (i, rule) in policy.rules(direction).iter().enumerate() {
        let sets = RuleSets {
            chain: &name,
            rule: i,
            describe: format!(
                "{} {} {direction} rule {i} {}",
                policy.tier, policy.name, rule.action
            ),
            direction,
        };
        let peers = if rule.peers.is_empty() {
            vec![None]
        } else {
            let addressed: Vec<&ClusterPeer> = rule
                .peers
                .iter()
                .filter(|p| !matches!(p, ClusterPeer::Networks(_)))
                .collect();
            let addresses = (!addressed.is_empty()).then(|| {
                addressed
                    .iter()
                    .flat_map(|peer| match peer {
                        ClusterPeer::Nodes(_) => cluster.cluster_peer_nodes(peer).collect(),
                        _ => cluster
                            .pods
                            .values()
                            .filter(|p| cluster.cluster_peer_pod(peer, p))
                            .filter_map(Pod::policy_ip)
                            .collect::<Vec<_>>(),
                    })
                    .collect()
            });
            let blocks: Vec<IpBlock> = rule
                .peers
                .iter()
                .filter_map(|p| match p {
                    ClusterPeer::Networks(nets) => Some(nets),
                    _ => None,
                })
                .flatten()
                .map(|cidr| IpBlock {
                    cidr: *cidr,
                    except: Vec::new(),
                })
                .collect();
            let blocks: Vec<&IpBlock> = blocks.iter().collect();
            sets.peers(t, addresses, &blocks)
        };
        let ports = sets.ports(t, &rule.ports, &destinations);
        let verdict = action(policy.tier, rule.action, direction);
        for peer in &peers {
            for port in &ports {
                let mut exprs: Vec<Expr> = peer.iter().chain(port).cloned().collect();
                exprs.push(Expr::Counter);
                exprs.push(verdict.clone());
                out.push(Rule::new(exprs).with_comment(&sets.describe));
            }
        }
    }
    let c = t.chain(
        ChainDecl::regular(&name)
            .with_comment(&format!("{} {} {direction}", policy.tier, policy.name)),
    );
    for r in out {
        c.rule(r);
    }
}

/// The expression a matching rule ends in.
fn action(tier: ClusterTier, action: Action, direction: Direction) -> Expr {
    match (action, tier) {
        (Action::Accept, _) | (Action::Pass, ClusterTier::Baseline) => {
            Expr::Verdict(Verdict::Accept)
        }
        (Action::Deny, _) => Expr::Verdict(Verdict::Drop),
        (Action::Pass, ClusterTier::Admin) => Expr::Vmap {
            key: vec![Selector::Ip(subject_field(direction))],
            map: VmapRef::Named(pass_map(direction).to_owned()),
        },
    }
}

/// The chain name of a policy (for the pods' chains that jump to it).
pub fn chain(policy: &ClusterNetworkPolicy, direction: Direction) -> String {
    cluster_policy_chain(&policy.name, direction)
}
