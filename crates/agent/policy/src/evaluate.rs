//! The pure evaluator: may this packet's connection pass, and which policy and rule decide?
//! The same answer the rendered rules give in the kernel (the tests walk packets through
//! both), and what `podnet trace` explains a drop with.
//!
//! Tiers are evaluated in order, per direction: the Admin tier's ClusterNetworkPolicies by
//! priority (the first matching rule's Accept or Deny is final, a Pass skips the rest of the
//! tier), then NetworkPolicy (final for the pods it isolates), then the Baseline tier's
//! ClusterNetworkPolicies (a Pass there, like no match at all, leaves the traffic allowed).

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use crate::cluster::Cluster;
use crate::cluster_policy::{Action, ClusterRule, ClusterTier};
use crate::model::{Direction, NetworkPolicy, ObjectRef, Peer, Pod, Protocol, Rule};

/// A connection's first packet, after Service DNAT (addresses as the pods see them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
}

/// Where a policy sits in evaluation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// ClusterNetworkPolicy, tier Admin: before NetworkPolicy.
    Admin,
    NetworkPolicy,
    /// ClusterNetworkPolicy, tier Baseline: after NetworkPolicy.
    Baseline,
}

/// The rule that decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub tier: Tier,
    /// A ClusterNetworkPolicy's has an empty namespace.
    pub policy: ObjectRef,
    pub direction: Direction,
    /// Index in the policy's rules of that direction.
    pub rule: usize,
}

/// One direction's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No policy isolates the pod for this direction, or the end is not a policy subject
    /// (no pod, a host-network pod).
    NotIsolated,
    /// Traffic into a pod from its own node (kubelet probes), always allowed.
    OwnNode,
    Allowed(RuleRef),
    /// Isolated, and no rule of the policies that isolate it allows this.
    Denied {
        isolated_by: Vec<ObjectRef>,
    },
    /// A ClusterNetworkPolicy rule's Deny.
    DeniedBy(RuleRef),
}

/// Both directions: a connection passes only if the source may send it (egress) and the
/// destination may receive it (ingress).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub egress: Verdict,
    pub ingress: Verdict,
}

/// Decides `flow` against everything `cluster` holds.
pub fn evaluate(cluster: &Cluster, flow: &Flow) -> Decision {
    let src = cluster.pod_by_ip(flow.src);
    let dst = cluster.pod_by_ip(flow.dst);
    let egress = match src {
        Some(pod) => direction(cluster, pod, Direction::Egress, flow, flow.dst, dst),
        None => Verdict::NotIsolated,
    };
    let ingress = match dst {
        Some(pod) if from_own_node(cluster, pod, flow.src) => Verdict::OwnNode,
        Some(pod) => direction(cluster, pod, Direction::Ingress, flow, flow.src, src),
        None => Verdict::NotIsolated,
    };
    Decision { egress, ingress }
}

fn from_own_node(cluster: &Cluster, pod: &Pod, src: IpAddr) -> bool {
    pod.node
        .as_ref()
        .and_then(|n| cluster.nodes.get(n))
        .is_some_and(|ips| ips.contains(&src))
}

/// `subject`'s verdict for `direction`, where `peer_ip` (and `peer`, if it is a pod) is the
/// other end.
fn direction(
    cluster: &Cluster,
    subject: &Pod,
    direction: Direction,
    flow: &Flow,
    peer_ip: IpAddr,
    peer: Option<&Pod>,
) -> Verdict {
    // Named ports resolve on the destination pod: the subject for ingress, the peer for egress.
    let dst_pod = match direction {
        Direction::Ingress => Some(subject),
        Direction::Egress => peer,
    };
    let end = End {
        flow,
        peer_ip,
        peer,
        dst_pod,
    };
    if let Some(v) = cluster_tier(cluster, subject, direction, ClusterTier::Admin, &end) {
        return v;
    }
    let mut isolated_by = Vec::new();
    for policy in cluster.isolating(subject, direction) {
        let rules = policy.rules(direction).unwrap_or_default();
        let hit = rules.iter().position(|rule| {
            rule_peers_match(cluster, policy, rule, peer_ip, peer) && ports_match(&rule.ports, &end)
        });
        if let Some(rule) = hit {
            return Verdict::Allowed(RuleRef {
                tier: Tier::NetworkPolicy,
                policy: policy.id.clone(),
                direction,
                rule,
            });
        }
        isolated_by.push(policy.id.clone());
    }
    if !isolated_by.is_empty() {
        return Verdict::Denied { isolated_by };
    }
    cluster_tier(cluster, subject, direction, ClusterTier::Baseline, &end)
        .unwrap_or(Verdict::NotIsolated)
}

/// The other end of the connection, as a rule matches it.
struct End<'a> {
    flow: &'a Flow,
    peer_ip: IpAddr,
    peer: Option<&'a Pod>,
    /// Where named ports resolve.
    dst_pod: Option<&'a Pod>,
}

/// The tier's final verdict on the connection, if it makes one (`None`: no rule matched, or
/// a Pass skipped the rest of the tier).
fn cluster_tier(
    cluster: &Cluster,
    subject: &Pod,
    direction: Direction,
    tier: ClusterTier,
    end: &End<'_>,
) -> Option<Verdict> {
    for policy in cluster.cluster_tier(subject, direction, tier) {
        let rules = policy.rules(direction);
        let Some(i) = rules
            .iter()
            .position(|r| cluster_rule_matches(cluster, r, end))
        else {
            continue;
        };
        let rule = RuleRef {
            tier: match tier {
                ClusterTier::Admin => Tier::Admin,
                ClusterTier::Baseline => Tier::Baseline,
            },
            policy: ObjectRef::new("", &policy.name),
            direction,
            rule: i,
        };
        return match rules[i].action {
            Action::Accept => Some(Verdict::Allowed(rule)),
            Action::Deny => Some(Verdict::DeniedBy(rule)),
            Action::Pass => None,
        };
    }
    None
}

fn cluster_rule_matches(cluster: &Cluster, rule: &ClusterRule, end: &End<'_>) -> bool {
    (rule.peers.is_empty()
        || rule
            .peers
            .iter()
            .any(|p| cluster.cluster_peer_selects(p, end.peer_ip, end.peer)))
        && ports_match(&rule.ports, end)
}

fn ports_match(ports: &[crate::model::Port], end: &End<'_>) -> bool {
    ports.is_empty()
        || ports
            .iter()
            .any(|p| p.matches(end.flow.protocol, end.flow.port, end.dst_pod))
}

fn rule_peers_match(
    cluster: &Cluster,
    policy: &NetworkPolicy,
    rule: &Rule,
    ip: IpAddr,
    pod: Option<&Pod>,
) -> bool {
    rule.peers.is_empty()
        || rule.peers.iter().any(|peer| match peer {
            Peer::IpBlock(block) => block.contains(ip),
            Peer::Pods { .. } => {
                pod.is_some_and(|p| cluster.peer_selects(&policy.id.namespace, peer, p))
            }
        })
}

// === impl Decision ===

impl Decision {
    pub fn allowed(&self) -> bool {
        !self.egress.denied() && !self.ingress.denied()
    }
}

// === impl Verdict ===

impl Verdict {
    pub fn denied(&self) -> bool {
        matches!(self, Verdict::Denied { .. } | Verdict::DeniedBy(_))
    }
}

impl Display for Verdict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::NotIsolated => f.write_str("not isolated"),
            Verdict::OwnNode => f.write_str("allowed: from the pod's own node"),
            Verdict::Allowed(r) => write!(f, "allowed by {r}"),
            Verdict::DeniedBy(r) => write!(f, "denied by {r}"),
            Verdict::Denied { isolated_by } => {
                let names: Vec<String> = isolated_by.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "denied: isolated by {}, no rule allows it",
                    names.join(", ")
                )
            }
        }
    }
}

impl Display for RuleRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.tier {
            Tier::NetworkPolicy => write!(f, "NetworkPolicy {}", self.policy)?,
            tier => write!(f, "{tier:?} ClusterNetworkPolicy {}", self.policy.name)?,
        }
        write!(f, " {} rule {}", self.direction, self.rule)
    }
}

impl Display for Decision {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "egress {}; ingress {}", self.egress, self.ingress)
    }
}
