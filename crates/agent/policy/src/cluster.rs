//! The objects policy is computed from, and the questions both the evaluator and the renderer
//! ask of them (which pods a policy isolates, which pods a peer names), answered in one place
//! so the two cannot drift apart.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::{Direction, Namespace, Namespaces, NetworkPolicy, ObjectRef, Peer, Pod};

/// Pods, namespaces, NetworkPolicies and nodes' addresses, by identity.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    pub pods: BTreeMap<ObjectRef, Pod>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub policies: BTreeMap<ObjectRef, NetworkPolicy>,
    /// Each node's own addresses: traffic from a pod's node is always allowed in.
    pub nodes: BTreeMap<String, Vec<IpAddr>>,
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
}
