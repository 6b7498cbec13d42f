//! One sync of a DaemonSet (upstream `syncDaemonSet` → `manage` → `rollingUpdate` →
//! `updateDaemonSetStatus`): pods to create (one per node that should run one), pods to
//! delete (misplaced, surplus, failed, or replaced by a rolling update), and the status.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::pods::{REVISION_HASH, node_of, placement, with_daemon_tolerations};
use crate::pods::{controller_ref, controller_uid, is_available, is_ready, phase};
use crate::revisions::{self, Owner, history};
use crate::selector;

/// What one sync does. A non-empty `create`/`delete` is where upstream records
/// `SuccessfulCreate`/`SuccessfulDelete` events.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The current revision's `controller-revision-hash`.
    pub hash: String,
    pub revisions: Vec<revisions::Change>,
    /// Orphaned pods the selector matches, to adopt.
    pub adopt: Vec<String>,
    /// Nodes to create a pod on.
    pub create: Vec<String>,
    /// Pods to delete.
    pub delete: Vec<String>,
    pub status: DaemonSetStatus,
}

/// `pods`: the pods of the DaemonSet's namespace; `revisions`: its ControllerRevisions.
pub fn plan(
    ds: &DaemonSet,
    nodes: &[Node],
    pods: &[Pod],
    revisions: &[ControllerRevision],
    now: Timestamp,
) -> Plan {
    let uid = ds.uid().unwrap_or_default();
    let spec = &ds.spec;
    let mut adopt = Vec::new();
    let mut delete = Vec::new();
    let mut by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for p in pods {
        let ours = match controller_uid(p) {
            Some(owner) => owner == uid,
            None => {
                let orphan = p.metadata.deletion_timestamp.is_none()
                    && selector::matches(&spec.selector, p.labels());
                if orphan {
                    adopt.push(p.name_any());
                }
                orphan
            }
        };
        if !ours || p.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if phase(p) == Some("Failed") {
            // A failed daemon pod is replaced.
            delete.push(p.name_any());
            continue;
        }
        if let Some(node) = node_of(p) {
            by_node.entry(node).or_default().push(p);
        }
    }
    let in_use: BTreeSet<String> = by_node
        .values()
        .flatten()
        .filter_map(|p| p.labels().get(REVISION_HASH).cloned())
        .collect();
    let owner = Owner {
        meta: &ds.metadata,
        owner_ref: controller_ref(ds),
        template: &spec.template,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        revision_history_limit: spec.revision_history_limit,
    };
    let (hash, revision_changes) = history(&owner, revisions, &in_use);
    let pod_spec = with_daemon_tolerations(&spec.template.spec.clone().unwrap_or_default());
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut create = Vec::new();
    // The one pod kept on each node that should run it.
    let mut running: Vec<(&str, &Pod)> = Vec::new();
    let mut misscheduled = 0;
    let mut desired = 0;
    let known: BTreeSet<String> = nodes.iter().map(|n| n.name_any()).collect();
    for node in nodes {
        let name = node.metadata.name.as_deref().unwrap_or("");
        let mut here = by_node.remove(name).unwrap_or_default();
        let place = placement(&pod_spec, node);
        if place.should_run {
            desired += 1;
        } else if !here.is_empty() {
            misscheduled += 1;
        }
        if place.should_run && here.is_empty() {
            create.push(name.to_string());
        }
        if !place.may_continue {
            delete.extend(here.iter().map(|p| p.name_any()));
            continue;
        }
        // Surplus pods on one node: the oldest stays.
        here.sort_by_key(|p| {
            (
                p.metadata.creation_timestamp.clone().map(|t| t.0),
                p.name_any(),
            )
        });
        delete.extend(here.iter().skip(1).map(|p| p.name_any()));
        if let (true, Some(first)) = (place.should_run, here.first()) {
            running.push((name, first));
        }
    }
    // Pods pinned to nodes that are gone.
    for (node, pods) in by_node {
        if !known.contains(node) {
            delete.extend(pods.iter().map(|p| p.name_any()));
        }
    }
    let current = |p: &Pod| p.labels().get(REVISION_HASH) == Some(&hash);
    let available = |p: &Pod| is_available(p, min_ready, now);
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    if rolling {
        let max_unavailable = max_unavailable(ds, desired);
        let mut unavailable = create.len() + running.iter().filter(|(_, p)| !available(p)).count();
        for (_, p) in running.iter().filter(|(_, p)| !current(p)) {
            if !available(p) {
                // Not serving anyway: replaced at once.
                delete.push(p.name_any());
            } else if unavailable < max_unavailable {
                unavailable += 1;
                delete.push(p.name_any());
            }
        }
    }
    let count = |f: &dyn Fn(&Pod) -> bool| running.iter().filter(|(_, p)| f(p)).count() as i32;
    let status = DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: running.len() as i32,
        number_misscheduled: misscheduled,
        number_ready: count(&is_ready),
        updated_number_scheduled: nonzero(count(&current)),
        number_available: nonzero(count(&available)),
        number_unavailable: nonzero(desired - count(&available)),
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    delete.sort();
    delete.dedup();
    Plan {
        hash,
        revisions: revision_changes,
        adopt,
        create,
        delete,
        status,
    }
}

fn nonzero(n: i32) -> Option<i32> {
    (n > 0).then_some(n)
}

/// `rollingUpdate.maxUnavailable` of the nodes that should run a pod (a percentage rounds
/// up), at least 1 (upstream `unavailableCount` with maxSurge 0).
fn max_unavailable(ds: &DaemonSet, desired: i32) -> usize {
    let value = ds
        .spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(IntOrString::Int(1));
    let n = match value {
        IntOrString::Int(n) => n.max(0) as usize,
        IntOrString::String(s) => {
            let pct: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            (pct * desired.max(0) as usize).div_ceil(100)
        }
    };
    n.max(1)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
