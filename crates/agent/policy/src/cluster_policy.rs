//! ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2, network-policy-api v0.2.0),
//! normalised: the cluster administrator's policies of tier Admin (before NetworkPolicy) and
//! Baseline (after it), each rule an Accept, Deny or Pass of traffic to or from peers.
//!
//! Within a tier policies are evaluated by ascending `priority`; the API leaves the order of
//! equal priorities to the implementation, and podnet breaks ties by name. Within a policy
//! rules are evaluated in the order written.

mod api;

use ipnet::IpNet;
use std::fmt::{self, Display, Formatter};

pub use api::from_object;

use crate::model::{Direction, Port};
use crate::selector::LabelSelector;

/// The tier a ClusterNetworkPolicy sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterTier {
    Admin,
    Baseline,
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Allowed; no later policy of any tier is looked at.
    Accept,
    /// Dropped; no later policy of any tier is looked at.
    Deny,
    /// The rest of this tier is skipped; the next tier decides.
    Pass,
}

/// The pods a policy applies to (host-network pods never).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterSubject {
    pub namespaces: LabelSelector,
    /// Empty for `subject.namespaces` (every pod of the selected namespaces).
    pub pods: LabelSelector,
}

/// One entry of a rule's `from` / `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterPeer {
    /// `namespaces` (with `pods` empty) or `pods`: pods, never host-network ones.
    Pods {
        namespaces: LabelSelector,
        pods: LabelSelector,
    },
    /// `networks` (egress): addresses in any of these CIDRs, pods' included.
    Networks(Vec<IpNet>),
    /// `nodes` (egress): the addresses of the nodes selected by their labels.
    Nodes(LabelSelector),
}

/// One ingress or egress rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRule {
    /// The rule's `name`, or its index when it has none (for counters and explanations).
    pub name: String,
    pub action: Action,
    /// Empty only for a rule that must fail closed (a peer of a kind this version does not
    /// know): it matches every peer.
    pub peers: Vec<ClusterPeer>,
    /// Empty: every port and protocol.
    pub ports: Vec<Port>,
}

/// A ClusterNetworkPolicy, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNetworkPolicy {
    pub name: String,
    pub tier: ClusterTier,
    pub priority: u32,
    pub subject: ClusterSubject,
    pub ingress: Vec<ClusterRule>,
    pub egress: Vec<ClusterRule>,
}

// === impl ClusterTier ===

impl ClusterTier {
    pub fn name(self) -> &'static str {
        match self {
            ClusterTier::Admin => "admin",
            ClusterTier::Baseline => "baseline",
        }
    }
}

impl Display for ClusterTier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClusterTier::Admin => "Admin",
            ClusterTier::Baseline => "Baseline",
        })
    }
}

// === impl Action ===

impl Display for Action {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Accept => "Accept",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        })
    }
}

// === impl ClusterNetworkPolicy ===

impl ClusterNetworkPolicy {
    /// The rules of one direction (empty: the policy does not affect it).
    pub fn rules(&self, direction: Direction) -> &[ClusterRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// Evaluation order within a tier: priority, then name.
    pub fn order_key(&self) -> (u32, &str) {
        (self.priority, &self.name)
    }
}
