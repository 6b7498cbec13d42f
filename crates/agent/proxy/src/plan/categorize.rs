//! Which endpoints each traffic policy uses (kube-proxy's `CategorizeEndpoints`): ready
//! ones, narrowed by topology; serving+terminating ones only when nothing is ready.

use podnet_k8s_model::{Endpoint, TrafficDistribution, TrafficPolicy};

use super::PortPlan;
use crate::node::NodeInfo;

/// The result of [`categorize`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Categorized {
    pub cluster: Vec<Endpoint>,
    pub local: Vec<Endpoint>,
    /// Some usable endpoint exists anywhere (ready, or serving and terminating).
    pub has_any: bool,
}

/// Splits `all` (the port's endpoints) into the Cluster-policy and the Local-policy sets
/// for `plan`'s policies, on `node`.
pub fn categorize(
    all: &[Endpoint],
    plan: &PortPlan,
    distribution: TrafficDistribution,
    node: &NodeInfo,
) -> Categorized {
    let uses_cluster = plan.internal_policy == TrafficPolicy::Cluster || plan.externally_accessible;
    let uses_local = plan.internal_policy == TrafficPolicy::Local
        || plan.external_policy == TrafficPolicy::Local;
    let mut out = Categorized::default();

    if uses_cluster {
        let ready: Vec<&Endpoint> = all.iter().filter(|e| e.ready).collect();
        let picked = narrow_by_topology(&ready, distribution, node);
        out.cluster = if picked.is_empty() {
            all.iter()
                .filter(|e| e.serving && e.terminating)
                .cloned()
                .collect()
        } else {
            picked
        };
        out.has_any = !out.cluster.is_empty();
    }
    if !uses_local {
        return out;
    }

    let usable = |e: &&Endpoint| e.ready || (e.serving && e.terminating);
    out.has_any |= all.iter().any(|e| usable(&e));
    let local = |e: &&Endpoint| node.is_local(e.node_name.as_deref());
    let local_ready: Vec<Endpoint> = all
        .iter()
        .filter(|e| local(e) && e.ready)
        .cloned()
        .collect();
    out.local = if local_ready.is_empty() {
        all.iter()
            .filter(|e| local(e) && e.serving && e.terminating)
            .cloned()
            .collect()
    } else {
        local_ready
    };
    out
}

/// Topology-aware routing: with PreferClose, the endpoints hinted for (or, when the
/// EndpointSlice controller gave no hints, located in) this node's zone; with
/// PreferSameNode, this node's. Falls back to all of them when that would leave none, or
/// when only some endpoints carry hints (the controller is mid-update), as kube-proxy does.
fn narrow_by_topology(
    ready: &[&Endpoint],
    distribution: TrafficDistribution,
    node: &NodeInfo,
) -> Vec<Endpoint> {
    let all = || ready.iter().map(|e| (*e).clone()).collect::<Vec<_>>();
    let narrowed: Vec<Endpoint> = match distribution {
        TrafficDistribution::Any => return all(),
        TrafficDistribution::PreferNode => {
            let hinted = ready.iter().all(|e| e.hint_nodes.is_some());
            ready
                .iter()
                .filter(|e| {
                    if hinted {
                        e.hint_nodes
                            .as_ref()
                            .is_some_and(|n| n.contains(&node.name))
                    } else {
                        node.is_local(e.node_name.as_deref())
                    }
                })
                .map(|e| (*e).clone())
                .collect()
        }
        TrafficDistribution::PreferZone => {
            let Some(zone) = node.zone.as_ref() else {
                return all();
            };
            let hinted = ready.iter().filter(|e| e.hint_zones.is_some()).count();
            if hinted != 0 && hinted != ready.len() {
                return all();
            }
            ready
                .iter()
                .filter(|e| match &e.hint_zones {
                    Some(zones) => zones.contains(zone),
                    None => e.zone.as_ref() == Some(zone),
                })
                .map(|e| (*e).clone())
                .collect()
        }
    };
    if narrowed.is_empty() { all() } else { narrowed }
}
