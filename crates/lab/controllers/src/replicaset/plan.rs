//! One sync of a ReplicaSet (upstream `syncReplicaSet` + `manageReplicas`): which pods it
//! claims (adopting orphans that match its selector, releasing its pods that no longer
//! do), how many to create or which to delete, and its status.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::pods::{controller_uid, deletion_order, is_active, is_available, is_ready};
use crate::selector;

/// Upstream `BurstReplicas`: at most this many creations or deletions per sync.
pub const BURST: usize = 500;

/// What one sync does. Each non-empty `create`/`delete` is where upstream records a
/// `SuccessfulCreate`/`SuccessfulDelete` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Orphans to take over (set this ReplicaSet as their controller).
    pub adopt: Vec<String>,
    /// Pods it controls whose labels left its selector: its ownerReference goes.
    pub release: Vec<String>,
    /// How many pods of the template to create.
    pub create: usize,
    /// Pods to delete, the cheapest to lose first.
    pub delete: Vec<String>,
    pub status: ReplicaSetStatus,
}

/// `pods`: the pods of the ReplicaSet's namespace.
pub fn plan(rs: &ReplicaSet, pods: &[Pod], now: Timestamp) -> Plan {
    let uid = rs.uid().unwrap_or_default();
    let matches = |p: &Pod| selector::matches(&rs.spec.selector, p.labels());
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let mut adopt = Vec::new();
    let mut release = Vec::new();
    let mut claimed: Vec<&Pod> = Vec::new();
    for p in pods {
        match controller_uid(p) {
            Some(owner) if owner == uid => {
                if matches(p) {
                    claimed.push(p);
                } else {
                    release.push(p.name_any());
                }
            }
            None if !deleting && matches(p) && p.metadata.deletion_timestamp.is_none() => {
                adopt.push(p.name_any());
                claimed.push(p);
            }
            _ => {}
        }
    }
    let active: Vec<&Pod> = claimed.iter().copied().filter(|p| is_active(p)).collect();
    let replicas = rs.spec.replicas.unwrap_or(1).max(0) as usize;
    let (mut create, mut delete) = (0, Vec::new());
    if !deleting {
        if active.len() < replicas {
            create = (replicas - active.len()).min(BURST);
        } else if active.len() > replicas {
            let mut ranked = active.clone();
            deletion_order(&mut ranked);
            delete = ranked
                .iter()
                .take((active.len() - replicas).min(BURST))
                .map(|p| p.name_any())
                .collect();
        }
    }
    Plan {
        adopt,
        release,
        create,
        delete,
        status: status(rs, &active, &claimed, now),
    }
}

fn status(rs: &ReplicaSet, active: &[&Pod], claimed: &[&Pod], now: Timestamp) -> ReplicaSetStatus {
    let template_labels = rs
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
    let count = |f: &dyn Fn(&Pod) -> bool| active.iter().filter(|p| f(p)).count();
    let fully_labeled = count(&|p| {
        template_labels
            .iter()
            .all(|(k, v)| p.labels().get(k) == Some(v))
    });
    let terminating = claimed
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .count();
    ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: nonzero(fully_labeled),
        ready_replicas: nonzero(count(&is_ready)),
        available_replicas: nonzero(count(&|p| is_available(p, min_ready, now))),
        terminating_replicas: nonzero(terminating),
        observed_generation: rs.metadata.generation,
        conditions: rs.status.as_ref().and_then(|s| s.conditions.clone()),
    }
}

/// Upstream's status counters are `omitempty`: a zero is left out.
pub fn nonzero(n: usize) -> Option<i32> {
    (n > 0).then_some(n as i32)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
