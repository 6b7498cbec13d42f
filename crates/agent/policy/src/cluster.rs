//! The objects policy is computed from, and the questions both the evaluator and the renderer
//! ask of them (which pods a policy isolates, which pods a peer names), answered in one place
//! so the two cannot drift apart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::cluster_policy::{ClusterNetworkPolicy, ClusterPeer, ClusterTier};
use crate::model::{Direction, Namespace, Namespaces, NetworkPolicy, ObjectRef, Peer, Pod};
use crate::selector::Labels;

/// Pods, namespaces, NetworkPolicies, ClusterNetworkPolicies and nodes, by identity.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub pods: BTreeMap<ObjectRef, Pod>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub policies: BTreeMap<ObjectRef, NetworkPolicy>,
    /// Each node's own addresses: traffic from a pod's node is always allowed in.
    pub nodes: BTreeMap<String, Vec<IpAddr>>,
    /// ClusterNetworkPolicies by name.
    pub cluster_policies: BTreeMap<String, ClusterNetworkPolicy>,
    /// Each node's labels (what ClusterNetworkPolicy `nodes` peers select; the addresses
    /// are `nodes`').
    pub node_labels: BTreeMap<String, Labels>,
}

// === impl Cluster ===

impl Cluster {
    pub fn add_pod(&mut self, pod: Pod) -> &mut Self {
        self.pods.insert(pod.id.clone(), pod);
        self
    }

    pub fn add_namespace(&mut self, ns: Namespace) -> &mut Self {
        self.namespaces.insert(ns.name.clone(), ns);
        self
    }

    pub fn add_policy(&mut self, policy: NetworkPolicy) -> &mut Self {
        self.policies.insert(policy.id.clone(), policy);
        self
    }

    pub fn add_cluster_policy(&mut self, policy: ClusterNetworkPolicy) -> &mut Self {
        self.cluster_policies.insert(policy.name.clone(), policy);
        self
    }

    /// Whether `policy` applies to `pod` (in either direction).
    pub fn selects(&self, policy: &NetworkPolicy, pod: &Pod) -> bool {
        pod.policy_ip().is_some()
            && pod.id.namespace == policy.id.namespace
            && policy.subjects.matches(&pod.labels)
    }

    /// The policies isolating `pod` for `direction`, in name order.
    pub fn isolating<'a>(
        &'a self,
        pod: &'a Pod,
        direction: Direction,
    ) -> impl Iterator<Item = &'a NetworkPolicy> + 'a {
        self.policies
            .values()
            .filter(move |p| p.rules(direction).is_some() && self.selects(p, pod))
    }

    /// The pod with this policy address, if any.
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&Pod> {
        self.pods.values().find(|p| p.policy_ip() == Some(ip))
    }

    /// Whether `pod` is one of the pods a `Peer::Pods` of a policy in `policy_ns` names.
    pub fn peer_selects(&self, policy_ns: &str, peer: &Peer, pod: &Pod) -> bool {
        let Peer::Pods { namespaces, pods } = peer else {
            return false;
        };
        if pod.policy_ip().is_none() || !pods.matches(&pod.labels) {
            return false;
        }
        match namespaces {
            Namespaces::Own => pod.id.namespace == policy_ns,
            Namespaces::Selected(sel) => self
                .namespaces
                .get(&pod.id.namespace)
                .is_some_and(|ns| sel.matches(&ns.labels)),
        }
    }

    /// The pods a `Peer::Pods` names.
    pub fn peer_pods<'a>(
        &'a self,
        policy_ns: &'a str,
        peer: &'a Peer,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods
            .values()
            .filter(move |p| self.peer_selects(policy_ns, peer, p))
    }

    /// Whether the ClusterNetworkPolicy `policy` applies to `pod`.
    pub fn cluster_selects(&self, policy: &ClusterNetworkPolicy, pod: &Pod) -> bool {
        pod.policy_ip().is_some()
            && policy.subject.pods.matches(&pod.labels)
            && self.namespace_matches(&pod.id.namespace, &policy.subject.namespaces)
    }

    /// The ClusterNetworkPolicies of `tier` with rules for `direction` that apply to `pod`,
    /// in evaluation order.
    pub fn cluster_tier(
        &self,
        pod: &Pod,
        direction: Direction,
        tier: ClusterTier,
    ) -> Vec<&ClusterNetworkPolicy> {
        let mut in_tier: Vec<&ClusterNetworkPolicy> = self
            .cluster_policies
            .values()
            .filter(|p| {
                p.tier == tier && !p.rules(direction).is_empty() && self.cluster_selects(p, pod)
            })
            .collect();
        in_tier.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        in_tier
    }

    /// Whether the other end of a connection, `ip` (and `pod` when it is one), is `peer`.
    pub fn cluster_peer_selects(&self, peer: &ClusterPeer, ip: IpAddr, pod: Option<&Pod>) -> bool {
        match peer {
            ClusterPeer::Pods { .. } => pod.is_some_and(|p| self.cluster_peer_pod(peer, p)),
            ClusterPeer::Networks(nets) => nets.iter().any(|n| n.contains(&ip)),
            ClusterPeer::Nodes(_) => self.cluster_peer_nodes(peer).any(|n| n == ip),
        }
    }

    /// Whether `pod` is one of the pods a `ClusterPeer::Pods` names.
    pub fn cluster_peer_pod(&self, peer: &ClusterPeer, pod: &Pod) -> bool {
        let ClusterPeer::Pods { namespaces, pods } = peer else {
            return false;
        };
        pod.policy_ip().is_some()
            && pods.matches(&pod.labels)
            && self.namespace_matches(&pod.id.namespace, namespaces)
    }

    /// The addresses of the nodes a `ClusterPeer::Nodes` selects.
    pub fn cluster_peer_nodes<'a>(
        &'a self,
        peer: &'a ClusterPeer,
    ) -> impl Iterator<Item = IpAddr> + 'a {
        let selector = match peer {
            ClusterPeer::Nodes(s) => Some(s),
            _ => None,
        };
        self.nodes
            .iter()
            .filter(move |(name, _)| {
                selector.is_some_and(|s| {
                    s.matches(self.node_labels.get(*name).unwrap_or(&Labels::new()))
                })
            })
            .flat_map(|(_, ips)| ips.iter().copied())
    }

    fn namespace_matches(&self, namespace: &str, selector: &crate::LabelSelector) -> bool {
        self.namespaces
            .get(namespace)
            .is_some_and(|ns| selector.matches(&ns.labels))
    }
}
