//! The agent's view of the cluster's Nodes, fed by watcher events; complete only once the
//! watcher's initial list is.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::runtime::watcher::Event;
use podnet_k8s_model::NodeRoute;

/// Nodes by name, normalised.
#[derive(Debug, Default)]
pub struct NodeStore {
    nodes: BTreeMap<String, NodeRoute>,
    /// The list being received after a (re)start of the watch; swapped in at `InitDone`.
    pending: Option<BTreeMap<String, NodeRoute>>,
    synced: bool,
}

// === impl NodeStore ===

impl NodeStore {
    /// Applies one watcher event; returns whether the complete set of Nodes changed.
    pub fn apply(&mut self, event: Event<Node>) -> bool {
        match event {
            Event::Init => {
                self.pending = Some(BTreeMap::new());
                false
            }
            Event::InitApply(node) => {
                if let (Some(pending), Some(route)) = (self.pending.as_mut(), normalise(&node)) {
                    pending.insert(route.name.clone(), route);
                }
                false
            }
            Event::InitDone => {
                let listed = self.pending.take().unwrap_or_default();
                let changed = !self.synced || listed != self.nodes;
                self.nodes = listed;
                self.synced = true;
                tracing::info!(nodes = self.nodes.len(), "node list complete");
                changed
            }
            Event::Apply(node) => match normalise(&node) {
                Some(route) => {
                    let changed = self.nodes.get(&route.name) != Some(&route);
                    self.nodes.insert(route.name.clone(), route);
                    changed
                }
                // A Node that became malformed routes nowhere until it is fixed.
                None => node
                    .metadata
                    .name
                    .as_ref()
                    .is_some_and(|n| self.nodes.remove(n).is_some()),
            },
            Event::Delete(node) => {
                let name = node.metadata.name.unwrap_or_default();
                let removed = self.nodes.remove(&name).is_some();
                if removed {
                    tracing::info!(node = %name, "node deleted");
                }
                removed
            }
        }
    }

    /// Whether the initial list is complete: before that, nothing may be programmed.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn nodes(&self) -> Vec<NodeRoute> {
        self.nodes.values().cloned().collect()
    }
}

fn normalise(node: &Node) -> Option<NodeRoute> {
    match NodeRoute::from_node(node) {
        Ok(route) => Some(route),
        Err(error) => {
            tracing::warn!(%error, "ignoring a Node routing cannot use");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cidr: &str, ip: &str) -> Node {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"podCIDR": cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}),
        )
        .unwrap()
    }

    #[test]
    fn not_synced_until_the_initial_list_is_complete() {
        let mut s = NodeStore::default();
        assert!(!s.apply(Event::Init));
        assert!(!s.apply(Event::InitApply(node("a", "10.244.1.0/24", "172.18.0.2"))));
        assert!(!s.synced(), "a partial list must not be programmed");
        assert!(s.apply(Event::InitDone));
        assert!(s.synced());
        assert_eq!(s.nodes().len(), 1);
    }

    #[test]
    fn a_relist_replaces_the_set_and_drops_nodes_deleted_meanwhile() {
        let mut s = NodeStore::default();
        for e in [
            Event::Init,
            Event::InitApply(node("a", "10.244.1.0/24", "172.18.0.2")),
            Event::InitApply(node("b", "10.244.2.0/24", "172.18.0.3")),
            Event::InitDone,
        ] {
            s.apply(e);
        }
        // The watch restarts; "b" went away while it was down.
        s.apply(Event::Init);
        s.apply(Event::InitApply(node("a", "10.244.1.0/24", "172.18.0.2")));
        assert_eq!(
            s.nodes().len(),
            2,
            "the old set stays until the new list is complete"
        );
        assert!(s.apply(Event::InitDone));
        assert_eq!(
            s.nodes()
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
    }

    #[test]
    fn unchanged_updates_do_not_trigger_a_reconcile() {
        let mut s = NodeStore::default();
        s.apply(Event::Init);
        s.apply(Event::InitDone);
        assert!(s.apply(Event::Apply(node("a", "10.244.1.0/24", "172.18.0.2"))));
        assert!(!s.apply(Event::Apply(node("a", "10.244.1.0/24", "172.18.0.2"))));
        assert!(s.apply(Event::Apply(node("a", "10.244.1.0/24", "172.18.0.9"))));
        assert!(s.apply(Event::Delete(node("a", "10.244.1.0/24", "172.18.0.9"))));
        assert!(!s.apply(Event::Delete(node("a", "10.244.1.0/24", "172.18.0.9"))));
    }

    #[test]
    fn a_malformed_node_is_skipped() {
        let mut s = NodeStore::default();
        s.apply(Event::Init);
        s.apply(Event::InitApply(node("bad", "10.244.1.0/33", "172.18.0.2")));
        s.apply(Event::InitDone);
        assert!(s.nodes().is_empty());
    }
}
