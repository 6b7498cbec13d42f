//! One sync of a StatefulSet (upstream `StatefulSetControl.UpdateStatefulSet`): pods
//! `0..replicas` exist, made in order and each Running and Ready before the next
//! (OrderedReady) or all at once (Parallel); higher ordinals go, highest first; a rolling
//! update replaces pods from the highest ordinal down to the partition, one at a time.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::pods::{ordinal, stateful_pod};
use crate::pods::{controller_ref, controller_uid, is_available, is_ready, phase};
use crate::revisions::{self, Owner, REVISION_HASH, history, template_of};

/// What one sync does. Each pod created or deleted is where upstream records a
/// `SuccessfulCreate`/`SuccessfulDelete` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub revisions: Vec<revisions::Change>,
    pub create: Vec<Pod>,
    pub delete: Vec<String>,
    pub status: StatefulSetStatus,
}

pub fn plan(
    sts: &StatefulSet,
    pods: &[Pod],
    history_now: &[ControllerRevision],
    now: Timestamp,
) -> Plan {
    let spec = &sts.spec;
    let name = sts.name_any();
    let replicas = spec.replicas.unwrap_or(1).max(0) as usize;
    let parallel = spec.pod_management_policy.as_deref() == Some("Parallel");
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let mut by_ordinal: BTreeMap<usize, &Pod> = BTreeMap::new();
    for p in pods {
        if belongs(sts, p)
            && let Some(i) = ordinal(&name, p)
        {
            by_ordinal.insert(i, p);
        }
    }
    let in_use: BTreeSet<String> = by_ordinal
        .values()
        .filter_map(|p| p.labels().get(REVISION_HASH).cloned())
        .collect();
    let owner = Owner {
        meta: &sts.metadata,
        owner_ref: controller_ref(sts),
        template: &spec.template,
        collision_count: sts.status.as_ref().and_then(|s| s.collision_count),
        revision_history_limit: spec.revision_history_limit,
    };
    let (update_hash, revision_changes) = history(&owner, history_now, &in_use);
    let current_hash = sts
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .unwrap_or_else(|| update_hash.clone());
    let current_template: PodTemplateSpec = history_now
        .iter()
        .find(|r| r.labels().get(REVISION_HASH) == Some(&current_hash))
        .and_then(template_of)
        .unwrap_or_else(|| spec.template.clone());
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        != Some("OnDelete");
    let partition = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0) as usize;
    let terminating = |p: &Pod| p.metadata.deletion_timestamp.is_some();
    let healthy = |p: &Pod| !terminating(p) && phase(p) == Some("Running") && is_ready(p);
    let revision_of = |p: &Pod| p.labels().get(REVISION_HASH).cloned().unwrap_or_default();

    let mut create = Vec::new();
    let mut delete = Vec::new();
    let mut blocked = false;
    // Pods 0..replicas: failed ones are recreated; missing ones made, in order unless Parallel.
    for i in 0..replicas {
        match by_ordinal.get(&i) {
            Some(p) if phase(p) == Some("Failed") && !terminating(p) => {
                delete.push(p.name_any());
                blocked = true;
            }
            Some(p) => {
                if !parallel && !healthy(p) {
                    blocked = true;
                    break;
                }
            }
            None => {
                // Below the partition, pods are made from the current revision.
                let (template, hash) = if rolling && i < partition {
                    (&current_template, &current_hash)
                } else {
                    (&spec.template, &update_hash)
                };
                create.push(stateful_pod(sts, template, i, hash));
                if !parallel {
                    blocked = true;
                    break;
                }
            }
        }
    }
    // Condemned pods (ordinal ≥ replicas): highest first; OrderedReady one at a time, only
    // while every kept pod is healthy.
    let condemned: Vec<&Pod> = by_ordinal
        .range(replicas..)
        .rev()
        .map(|(_, p)| *p)
        .collect();
    for p in &condemned {
        if terminating(p) {
            if !parallel {
                blocked = true;
                break;
            }
            continue;
        }
        if !parallel && blocked {
            break;
        }
        delete.push(p.name_any());
        if !parallel {
            blocked = true;
            break;
        }
    }
    // Rolling update, from the highest ordinal down to the partition: one pod at a time,
    // the next only once the replaced one is back and healthy.
    if rolling && !blocked && create.is_empty() && delete.is_empty() {
        for i in (partition..replicas).rev() {
            let Some(p) = by_ordinal.get(&i) else {
                break;
            };
            if revision_of(p) != update_hash && !terminating(p) {
                delete.push(p.name_any());
                break;
            }
            if !healthy(p) {
                break;
            }
        }
    }
    let live: Vec<&Pod> = by_ordinal
        .values()
        .copied()
        .filter(|p| !terminating(p))
        .collect();
    let count = |f: &dyn Fn(&Pod) -> bool| live.iter().filter(|p| f(p)).count() as i32;
    let updated = count(&|p| revision_of(p) == update_hash);
    let mut current_revision = current_hash.clone();
    let mut current_replicas = count(&|p| revision_of(p) == current_hash);
    if updated as usize == replicas && live.len() == replicas {
        // The rollout is complete: the update revision becomes the current one.
        current_revision = update_hash.clone();
        current_replicas = updated;
    }
    let status = StatefulSetStatus {
        replicas: live.len() as i32,
        ready_replicas: nonzero(count(&is_ready)),
        available_replicas: nonzero(count(&|p| is_available(p, min_ready, now))),
        current_replicas: nonzero(current_replicas),
        updated_replicas: nonzero(updated),
        current_revision: Some(current_revision),
        update_revision: Some(update_hash),
        observed_generation: sts.metadata.generation,
        collision_count: Some(
            sts.status
                .as_ref()
                .and_then(|s| s.collision_count)
                .unwrap_or(0),
        ),
        conditions: sts.status.as_ref().and_then(|s| s.conditions.clone()),
    };
    Plan {
        revisions: revision_changes,
        create,
        delete,
        status,
    }
}

/// The pod is one of the set's (controlled by it, with an ordinal name).
pub fn belongs(sts: &StatefulSet, p: &Pod) -> bool {
    controller_uid(p) == sts.metadata.uid.as_deref() && ordinal(&sts.name_any(), p).is_some()
}

fn nonzero(n: i32) -> Option<i32> {
    (n > 0).then_some(n)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
