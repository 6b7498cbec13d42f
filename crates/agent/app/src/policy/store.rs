//! Watcher events of NetworkPolicies, ClusterNetworkPolicies, Pods, Namespaces and Nodes into
//! the policy [`Cluster`]: normalised by podnet-agent-policy, relists swapped in whole at
//! `InitDone`, and no-op updates (a pod's status heartbeat) reported as no change. A cluster
//! without the ClusterNetworkPolicy CRD (its list answers 404) has none: NetworkPolicy is
//! enforced without waiting for it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::DynamicObject;
use kube::runtime::watcher::{self, Event};
use podnet_agent_policy::selector::Labels;
use podnet_agent_policy::{
    Cluster, ClusterNetworkPolicy, ObjectRef, cluster_policy, from_k8s, model,
};

/// A watched kind as the policy cluster holds it.
pub trait Tracked: Sized {
    type Key: Ord + Clone;
    type Model: PartialEq;
    const WHAT: &'static str;
    /// `None`: an object the API should have refused (logged, left out).
    fn model(&self) -> Option<(Self::Key, Self::Model)>;
    fn key(&self) -> Self::Key;
}

/// The cluster being built, and which initial lists are complete.
#[derive(Debug, Default)]
pub struct PolicyStore {
    pub cluster: Cluster,
    pending_policies: Option<BTreeMap<ObjectRef, model::NetworkPolicy>>,
    pending_pods: Option<BTreeMap<ObjectRef, model::Pod>>,
    pending_namespaces: Option<BTreeMap<String, model::Namespace>>,
    pending_cluster_policies: Option<BTreeMap<String, ClusterNetworkPolicy>>,
    /// Nodes' labels and addresses (ClusterNetworkPolicy `nodes` peers), projected into the
    /// cluster's `node_labels` and `nodes` on every change.
    nodes: BTreeMap<String, NodeModel>,
    pending_nodes: Option<BTreeMap<String, NodeModel>>,
    synced: [bool; 5],
}

/// What policy needs of a Node: its labels and addresses.
type NodeModel = (Labels, Vec<IpAddr>);

// === impl PolicyStore ===

impl PolicyStore {
    /// All five initial lists are complete: before that a partial list would isolate pods
    /// whose allowing policies are not listed yet.
    pub fn synced(&self) -> bool {
        self.synced.iter().all(|s| *s)
    }

    pub fn policy_event(&mut self, e: Result<Event<NetworkPolicy>, watcher::Error>) -> bool {
        apply(
            &mut self.cluster.policies,
            &mut self.pending_policies,
            &mut self.synced[0],
            e,
        )
    }

    pub fn pod_event(&mut self, e: Result<Event<Pod>, watcher::Error>) -> bool {
        apply(
            &mut self.cluster.pods,
            &mut self.pending_pods,
            &mut self.synced[1],
            e,
        )
    }

    /// A ClusterNetworkPolicy (as a dynamic object of the CRD's kind) event.
    pub fn cluster_policy_event(
        &mut self,
        e: Result<Event<DynamicObject>, watcher::Error>,
    ) -> bool {
        if let Err(error) = &e
            && not_served(error)
        {
            // The watcher's backoff keeps retrying: once the CRD is installed, its list
            // replaces this empty one.
            let first = !self.synced[3];
            self.synced[3] = true;
            if first {
                tracing::info!("ClusterNetworkPolicy is not served (no CRD): none enforced");
            }
            return first;
        }
        apply(
            &mut self.cluster.cluster_policies,
            &mut self.pending_cluster_policies,
            &mut self.synced[3],
            e,
        )
    }

    pub fn node_event(&mut self, e: Result<Event<Node>, watcher::Error>) -> bool {
        let changed = apply(
            &mut self.nodes,
            &mut self.pending_nodes,
            &mut self.synced[4],
            e,
        );
        if changed {
            self.cluster.nodes = self
                .nodes
                .iter()
                .map(|(name, (_, ips))| (name.clone(), ips.clone()))
                .collect();
            self.cluster.node_labels = self
                .nodes
                .iter()
                .map(|(name, (labels, _))| (name.clone(), labels.clone()))
                .collect();
        }
        changed
    }

    pub fn namespace_event(&mut self, e: Result<Event<Namespace>, watcher::Error>) -> bool {
        apply(
            &mut self.cluster.namespaces,
            &mut self.pending_namespaces,
            &mut self.synced[2],
            e,
        )
    }
}

/// Applies one event of kind `K` to `map`; returns whether it changed.
fn apply<K: Tracked>(
    map: &mut BTreeMap<K::Key, K::Model>,
    pending: &mut Option<BTreeMap<K::Key, K::Model>>,
    synced: &mut bool,
    event: Result<Event<K>, watcher::Error>,
) -> bool {
    let event = match event {
        Ok(e) => e,
        Err(error) => {
            // The backoff retries; the cluster keeps the last complete list meanwhile.
            tracing::warn!(%error, what = K::WHAT, "watching");
            return false;
        }
    };
    match event {
        Event::Init => {
            *pending = Some(BTreeMap::new());
            false
        }
        Event::InitApply(obj) => {
            if let (Some(p), Some((k, m))) = (pending.as_mut(), obj.model()) {
                p.insert(k, m);
            }
            false
        }
        Event::InitDone => {
            let listed = pending.take().unwrap_or_default();
            let changed = !*synced || *map != listed;
            *map = listed;
            *synced = true;
            tracing::info!(what = K::WHAT, count = map.len(), "list complete");
            changed
        }
        Event::Apply(obj) => match obj.model() {
            Some((k, m)) => {
                let changed = map.get(&k) != Some(&m);
                map.insert(k, m);
                changed
            }
            None => map.remove(&obj.key()).is_some(),
        },
        Event::Delete(obj) => map.remove(&obj.key()).is_some(),
    }
}

/// Whether the API answered 404 for the kind itself (its CRD is not installed).
fn not_served(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status)) => status.is_not_found(),
        _ => false,
    }
}

fn object_ref(meta: &kube::api::ObjectMeta) -> ObjectRef {
    ObjectRef::new(
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default(),
    )
}

impl Tracked for NetworkPolicy {
    type Key = ObjectRef;
    type Model = model::NetworkPolicy;
    const WHAT: &'static str = "NetworkPolicies";

    fn model(&self) -> Option<(ObjectRef, model::NetworkPolicy)> {
        match from_k8s::network_policy(self) {
            Ok(p) => Some((p.id.clone(), p)),
            Err(error) => {
                tracing::warn!(%error, "ignoring a NetworkPolicy that cannot be enforced");
                None
            }
        }
    }

    fn key(&self) -> ObjectRef {
        object_ref(&self.metadata)
    }
}

impl Tracked for DynamicObject {
    type Key = String;
    type Model = ClusterNetworkPolicy;
    const WHAT: &'static str = "ClusterNetworkPolicies";

    fn model(&self) -> Option<(String, ClusterNetworkPolicy)> {
        let parsed = serde_json::to_value(self)
            .map_err(|e| e.to_string())
            .and_then(|v| cluster_policy::from_object(&v).map_err(|e| e.to_string()));
        match parsed {
            Ok(p) => Some((p.name.clone(), p)),
            Err(error) => {
                tracing::warn!(%error, "ignoring a ClusterNetworkPolicy that cannot be enforced");
                None
            }
        }
    }

    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
}

impl Tracked for Node {
    type Key = String;
    type Model = NodeModel;
    const WHAT: &'static str = "Nodes";

    fn model(&self) -> Option<(String, NodeModel)> {
        let addresses = self
            .status
            .iter()
            .flat_map(|s| s.addresses.iter().flatten())
            .filter(|a| a.type_ == "InternalIP" || a.type_ == "ExternalIP")
            .filter_map(|a| a.address.parse::<IpAddr>().ok())
            .collect();
        let labels = self.metadata.labels.clone().unwrap_or_default();
        Some((self.key(), (labels, addresses)))
    }

    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
}

impl Tracked for Pod {
    type Key = ObjectRef;
    type Model = model::Pod;
    const WHAT: &'static str = "Pods";

    fn model(&self) -> Option<(ObjectRef, model::Pod)> {
        let p = from_k8s::pod(self);
        Some((p.id.clone(), p))
    }

    fn key(&self) -> ObjectRef {
        object_ref(&self.metadata)
    }
}

impl Tracked for Namespace {
    type Key = String;
    type Model = model::Namespace;
    const WHAT: &'static str = "Namespaces";

    fn model(&self) -> Option<(String, model::Namespace)> {
        let n = from_k8s::namespace(self);
        Some((n.name.clone(), n))
    }

    fn key(&self) -> String {
        self.metadata.name.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, labels: serde_json::Value, ip: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"namespace": "x", "name": name, "labels": labels},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"podIP": ip}
        }))
        .unwrap()
    }

    fn np(name: &str) -> NetworkPolicy {
        serde_json::from_value(
            json!({"metadata": {"namespace": "x", "name": name}, "spec": {"podSelector": {}}}),
        )
        .unwrap()
    }

    #[test]
    fn not_synced_until_all_three_lists_are_complete() {
        let mut s = PolicyStore::default();
        s.policy_event(Ok(Event::Init));
        s.policy_event(Ok(Event::InitApply(np("deny"))));
        assert!(s.policy_event(Ok(Event::InitDone)));
        s.pod_event(Ok(Event::Init));
        s.pod_event(Ok(Event::InitDone));
        assert!(!s.synced(), "namespaces not listed yet");
        s.namespace_event(Ok(Event::Init));
        s.namespace_event(Ok(Event::InitDone));
        assert!(!s.synced(), "cluster network policies not listed yet");
        s.cluster_policy_event(Ok(Event::Init));
        s.cluster_policy_event(Ok(Event::InitApply(cnp("guard"))));
        assert!(s.cluster_policy_event(Ok(Event::InitDone)));
        assert!(!s.synced(), "nodes not listed yet");
        s.node_event(Ok(Event::Init));
        s.node_event(Ok(Event::InitApply(node("n1", "172.18.0.2"))));
        assert!(s.node_event(Ok(Event::InitDone)));
        assert!(s.synced());
        assert_eq!(s.cluster.policies.len(), 1);
        assert_eq!(s.cluster.cluster_policies.len(), 1);
        assert_eq!(
            s.cluster.nodes["n1"],
            vec!["172.18.0.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(s.cluster.node_labels["n1"]["kubernetes.io/hostname"], "n1");
        assert!(
            !s.node_event(Ok(Event::Apply(node("n1", "172.18.0.2")))),
            "no change"
        );
        assert!(s.node_event(Ok(Event::Delete(node("n1", "")))));
        assert!(s.cluster.nodes.is_empty() && s.cluster.node_labels.is_empty());
    }

    fn node(name: &str, ip: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}]}
        }))
        .unwrap()
    }

    fn cnp(name: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "policy.networking.k8s.io/v1alpha2", "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name},
            "spec": {"tier": "Admin", "priority": 1, "subject": {"namespaces": {}},
                     "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_cluster_without_the_crd_has_no_cluster_network_policies() {
        let mut s = PolicyStore::default();
        let status = kube::core::Status::failure(
            "the server could not find the requested resource",
            "NotFound",
        )
        .with_code(404);
        let gone = || {
            Err(watcher::Error::InitialListFailed(kube::Error::Api(
                Box::new(status.clone()),
            )))
        };
        assert!(s.cluster_policy_event(gone()));
        assert!(s.synced[3]);
        assert!(!s.cluster_policy_event(gone()), "said once");
        let forbidden = kube::core::Status::failure("forbidden", "Forbidden").with_code(403);
        let mut t = PolicyStore::default();
        t.cluster_policy_event(Err(watcher::Error::InitialListFailed(kube::Error::Api(
            Box::new(forbidden),
        ))));
        assert!(!t.synced[3], "any other error waits for the list");
        // The CRD installed later: its list replaces the empty one.
        s.cluster_policy_event(Ok(Event::Init));
        s.cluster_policy_event(Ok(Event::InitApply(cnp("guard"))));
        assert!(s.cluster_policy_event(Ok(Event::InitDone)));
        assert_eq!(s.cluster.cluster_policies.len(), 1);
    }

    #[test]
    fn unchanged_updates_are_no_change_and_relabels_are() {
        let mut s = PolicyStore::default();
        assert!(s.pod_event(Ok(Event::Apply(pod(
            "a",
            json!({"pod": "a"}),
            "10.244.1.2"
        )))));
        assert!(!s.pod_event(Ok(Event::Apply(pod(
            "a",
            json!({"pod": "a"}),
            "10.244.1.2"
        )))));
        assert!(s.pod_event(Ok(Event::Apply(pod(
            "a",
            json!({"pod": "b"}),
            "10.244.1.2"
        )))));
        assert!(s.pod_event(Ok(Event::Delete(pod("a", json!({}), "")))));
        assert!(s.cluster.pods.is_empty());
    }

    #[test]
    fn an_invalid_policy_is_left_out_and_its_previous_version_removed() {
        let mut s = PolicyStore::default();
        assert!(s.policy_event(Ok(Event::Apply(np("p")))));
        let bad: NetworkPolicy =
            serde_json::from_value(json!({"metadata": {"namespace": "x", "name": "p"},
            "spec": {"ingress": [{"from": [{}]}]}}))
            .unwrap();
        assert!(s.policy_event(Ok(Event::Apply(bad))));
        assert!(s.cluster.policies.is_empty());
    }
}
