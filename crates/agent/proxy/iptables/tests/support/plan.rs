//! Shared by this crate's test suites: the fixture's plan.

#![allow(dead_code)]

use std::collections::BTreeSet;

use podnet_agent_proxy::fixture;
use podnet_agent_proxy::{NodeInfo, Plan, ServiceState};
use podnet_k8s_model::{EndpointSliceInfo, Service};

/// The plan of `services` + `slices` on `node`.
pub fn plan_of(node: &NodeInfo, services: Vec<Service>, slices: Vec<EndpointSliceInfo>) -> Plan {
    let mut state = ServiceState::default();
    for s in services {
        state.upsert_service(s);
    }
    for s in slices {
        state.upsert_slice(s);
    }
    let dirty: BTreeSet<_> = state.take_dirty();
    let mut plan = Plan::default();
    plan.update(&state, node, &dirty);
    plan
}

/// The plan of the fixture every mode renders, on the fixture's node.
pub fn every_feature_plan() -> Plan {
    let (services, slices) = fixture::every_feature();
    plan_of(&fixture::node(), services, slices)
}

/// The proxy's state, plan and the iptables mode, driven the way the engine drives a
/// backend (without its conntrack clean-up).
pub struct Proxy {
    pub state: ServiceState,
    pub plan: Plan,
    pub node: NodeInfo,
    pub backend: podnet_agent_proxy_iptables::IptablesBackend,
}

impl Proxy {
    /// The iptables mode (IPv4, nf_tables) for the fixture's node in `netns`.
    pub fn new(netns: &std::path::Path) -> Self {
        let node = fixture::node();
        let config = podnet_agent_proxy_iptables::IptablesConfig {
            variant: podnet_iptables::Variant::Nft,
            node_ports: podnet_agent_proxy::NodePortAddressConfig::All,
            masquerade_all: false,
            masquerade_bit: podnet_agent_proxy_iptables::render::DEFAULT_MASQUERADE_BIT,
        };
        Self {
            state: ServiceState::default(),
            plan: Plan::default(),
            backend: podnet_agent_proxy_iptables::IptablesBackend::new(
                Some(netns),
                config,
                node.clone(),
            ),
            node,
        }
    }

    /// Plans what changed and syncs it (`full`, or partial).
    pub fn sync(&mut self, full: bool) -> podnet_agent_proxy::SyncStats {
        use podnet_agent_proxy::{Backend, SyncKind};
        let dirty = self.state.take_dirty();
        let changes = self.plan.update(&self.state, &self.node, &dirty);
        let kind = if full {
            SyncKind::Full
        } else {
            SyncKind::Partial
        };
        self.backend
            .sync(&self.plan, &changes, kind)
            .unwrap_or_else(|e| panic!("{kind:?} sync: {e}"))
    }
}
