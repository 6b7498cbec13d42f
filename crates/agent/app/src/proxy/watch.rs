//! Watcher events into the proxy engine's state: Services and EndpointSlices normalised by
//! the model (a malformed object is skipped and logged), relists swapped in whole at
//! `InitDone`, this Node's zone and addresses.

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use podnet_agent_proxy::{NodeInfo, ServiceState};
use podnet_k8s_model::{EndpointSliceInfo, NodeRoute, Service as ServiceModel};

/// The label kube-proxy reads a node's zone from.
const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Tracks the watches' initial lists: nothing is programmed before both are complete (a
/// partial list would delete the rules of the Services not listed yet).
#[derive(Debug)]
pub struct ProxyStore {
    node: String,
    pending_services: Option<Vec<ServiceModel>>,
    pending_slices: Option<Vec<EndpointSliceInfo>>,
    services_synced: bool,
    slices_synced: bool,
}

impl ProxyStore {
    pub fn new(node: String) -> Self {
        Self {
            node,
            pending_services: None,
            pending_slices: None,
            services_synced: false,
            slices_synced: false,
        }
    }

    /// Both initial lists are complete.
    pub fn synced(&self) -> bool {
        self.services_synced && self.slices_synced
    }

    /// Applies one Service event; returns whether the state changed.
    pub fn service_event(
        &mut self,
        state: &mut ServiceState,
        event: Result<Event<Service>, watcher::Error>,
    ) -> bool {
        match ok(event, "Services") {
            Some(Event::Init) => {
                self.pending_services = Some(Vec::new());
                false
            }
            Some(Event::InitApply(s)) => {
                if let (Some(p), Some(m)) = (self.pending_services.as_mut(), service(&s)) {
                    p.push(m);
                }
                false
            }
            Some(Event::InitDone) => {
                state.replace_services(self.pending_services.take().unwrap_or_default());
                self.services_synced = true;
                true
            }
            Some(Event::Apply(s)) => match service(&s) {
                Some(m) => state.upsert_service(m),
                None => remove_service(state, &s),
            },
            Some(Event::Delete(s)) => remove_service(state, &s),
            None => false,
        }
    }

    /// Applies one EndpointSlice event; returns whether the state changed.
    pub fn slice_event(
        &mut self,
        state: &mut ServiceState,
        event: Result<Event<EndpointSlice>, watcher::Error>,
    ) -> bool {
        match ok(event, "EndpointSlices") {
            Some(Event::Init) => {
                self.pending_slices = Some(Vec::new());
                false
            }
            Some(Event::InitApply(s)) => {
                if let (Some(p), Some(m)) = (self.pending_slices.as_mut(), slice(&s)) {
                    p.push(m);
                }
                false
            }
            Some(Event::InitDone) => {
                state.replace_slices(self.pending_slices.take().unwrap_or_default());
                self.slices_synced = true;
                true
            }
            Some(Event::Apply(s)) => match slice(&s) {
                Some(m) => state.upsert_slice(m),
                None => remove_slice(state, &s),
            },
            Some(Event::Delete(s)) => remove_slice(state, &s),
            None => false,
        }
    }

    /// This node's info after a Node event, if it changed.
    pub fn node_event(
        &mut self,
        current: &NodeInfo,
        event: Result<Event<Node>, watcher::Error>,
    ) -> Option<NodeInfo> {
        let node = match ok(event, "Nodes")? {
            Event::Apply(n) | Event::InitApply(n) => n,
            _ => return None,
        };
        if node.metadata.name.as_deref() != Some(self.node.as_str()) {
            return None;
        }
        let zone = node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(ZONE_LABEL))
            .cloned();
        let ips = match NodeRoute::from_node(&node) {
            Ok(r) => r.node_ip.map(|ip| vec![ip.0]).unwrap_or_default(),
            Err(error) => {
                tracing::warn!(%error, "this Node's addresses");
                current.node_ips.clone()
            }
        };
        let next = NodeInfo {
            zone,
            node_ips: ips,
            ..current.clone()
        };
        (next != *current).then_some(next)
    }
}

fn ok<K>(event: Result<Event<K>, watcher::Error>, what: &str) -> Option<Event<K>> {
    match event {
        Ok(e) => Some(e),
        Err(error) => {
            // The backoff retries; the state keeps the last complete view meanwhile.
            tracing::warn!(%error, what, "watch failed");
            None
        }
    }
}

fn service(s: &Service) -> Option<ServiceModel> {
    ServiceModel::from_service(s)
        .inspect_err(|error| tracing::warn!(%error, "ignoring a Service the proxy cannot use"))
        .ok()
}

fn slice(s: &EndpointSlice) -> Option<EndpointSliceInfo> {
    EndpointSliceInfo::from_slice(s)
        .inspect_err(
            |error| tracing::warn!(%error, "ignoring an EndpointSlice the proxy cannot use"),
        )
        .ok()
        .flatten()
}

fn remove_service(state: &mut ServiceState, s: &Service) -> bool {
    let name = podnet_k8s_model::ServiceName::new(
        s.metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        s.metadata.name.clone().unwrap_or_default(),
    );
    state.remove_service(&name)
}

fn remove_slice(state: &mut ServiceState, s: &EndpointSlice) -> bool {
    state.remove_slice(
        s.metadata.namespace.as_deref().unwrap_or("default"),
        s.metadata.name.as_deref().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(name: &str, ip: &str) -> Service {
        serde_json::from_value(json!({"metadata": {"namespace": "ns1", "name": name},
            "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}))
        .unwrap()
    }

    #[test]
    fn nothing_is_synced_before_both_lists_and_relists_replace() {
        let mut store = ProxyStore::new("node-1".into());
        let mut state = ServiceState::default();
        store.service_event(&mut state, Ok(Event::Init));
        store.service_event(&mut state, Ok(Event::InitApply(svc("a", "10.96.0.1"))));
        store.service_event(&mut state, Ok(Event::InitApply(svc("b", "10.96.0.2"))));
        assert!(state.service_count() == 0, "not before InitDone");
        assert!(store.service_event(&mut state, Ok(Event::InitDone)));
        assert!(!store.synced(), "EndpointSlices not listed yet");
        store.slice_event(&mut state, Ok(Event::Init));
        store.slice_event(&mut state, Ok(Event::InitDone));
        assert!(store.synced());
        assert_eq!(state.service_count(), 2);
        state.take_dirty();
        // A relist without "b": it goes.
        store.service_event(&mut state, Ok(Event::Init));
        store.service_event(&mut state, Ok(Event::InitApply(svc("a", "10.96.0.1"))));
        store.service_event(&mut state, Ok(Event::InitDone));
        assert_eq!(state.service_count(), 1);
        let dirty: Vec<String> = state.take_dirty().iter().map(ToString::to_string).collect();
        assert_eq!(dirty, ["ns1/b"]);
        // A malformed update removes the Service until it is fixed.
        assert!(store.service_event(&mut state, Ok(Event::Apply(svc("a", "bad")))));
        assert_eq!(state.service_count(), 0);
    }

    #[test]
    fn node_zone_and_address_are_read_from_our_node_only() {
        let mut store = ProxyStore::new("node-1".into());
        let current = NodeInfo {
            name: "node-1".into(),
            ..Default::default()
        };
        let node = |name: &str| -> Node {
            serde_json::from_value(json!({"metadata": {"name": name,
                "labels": {"topology.kubernetes.io/zone": "zone-a"}},
                "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}))
            .unwrap()
        };
        assert!(
            store
                .node_event(&current, Ok(Event::Apply(node("node-2"))))
                .is_none()
        );
        let n = store
            .node_event(&current, Ok(Event::Apply(node("node-1"))))
            .unwrap();
        assert_eq!(n.zone.as_deref(), Some("zone-a"));
        assert_eq!(
            n.node_ips,
            vec!["172.18.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        assert!(
            store
                .node_event(&n, Ok(Event::Apply(node("node-1"))))
                .is_none(),
            "unchanged"
        );
    }
}
