//! The rollout: from a Deployment and the pods it owns to the next step (pods to create,
//! pods to delete) and its status. One step per sync, like upstream's `rolloutRolling`:
//! either the new template is scaled (up or down), or old pods are scaled down; the pods'
//! own events bring the next sync.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::hash::pod_template_hash;
use super::pods::{deletion_order, is_active, is_ready, template_hash};

/// What one sync does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The current template's hash: new pods carry it.
    pub hash: String,
    /// How many pods of the current template to create.
    pub create: usize,
    /// Names of pods to delete.
    pub delete: Vec<String>,
    pub status: DeploymentStatus,
}

/// `pods`: the pods the Deployment owns (terminating ones included).
pub fn plan(d: &Deployment, pods: &[Pod], now: Timestamp) -> Plan {
    let spec = &d.spec;
    let replicas = spec.replicas.unwrap_or(1).max(0) as usize;
    let collision = d.status.as_ref().and_then(|s| s.collision_count);
    let hash = pod_template_hash(&spec.template, collision);
    let active: Vec<&Pod> = pods.iter().filter(|p| is_active(p)).collect();
    let (new, old): (Vec<&Pod>, Vec<&Pod>) = active
        .iter()
        .partition(|p| template_hash(p) == Some(hash.as_str()));
    let (surge, unavailable) = rolling_limits(d, replicas);
    let mut step = Step::default();
    if spec.paused != Some(true) {
        step = match spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
            Some("Recreate") => recreate(pods, &hash, &new, &old, replicas),
            _ => rolling(&new, &old, replicas, surge, unavailable),
        };
    }
    let status = status(d, &active, new.len(), replicas, unavailable, now);
    Plan {
        hash,
        create: step.create,
        delete: step.delete,
        status,
    }
}

#[derive(Default)]
struct Step {
    create: usize,
    delete: Vec<String>,
}

/// maxSurge (rounded up) and maxUnavailable (rounded down) as counts; both zero would
/// deadlock, so maxUnavailable becomes 1 then (upstream `ResolveFenceposts`).
pub fn rolling_limits(d: &Deployment, replicas: usize) -> (usize, usize) {
    let ru = d
        .spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = resolve(
        ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter),
        replicas,
        true,
    );
    let unavailable = resolve(
        ru.and_then(|r| r.max_unavailable.as_ref())
            .unwrap_or(&quarter),
        replicas,
        false,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn resolve(v: &IntOrString, total: usize, round_up: bool) -> usize {
    match v {
        IntOrString::Int(n) => (*n).max(0) as usize,
        IntOrString::String(s) => {
            let pct: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            let scaled = pct * total;
            if round_up {
                scaled.div_ceil(100)
            } else {
                scaled / 100
            }
        }
    }
}

fn names(pods: &[&Pod], n: usize) -> Vec<String> {
    let mut ranked = pods.to_vec();
    deletion_order(&mut ranked);
    ranked.iter().take(n).map(|p| p.name_any()).collect()
}

fn rolling(new: &[&Pod], old: &[&Pod], replicas: usize, surge: usize, unavailable: usize) -> Step {
    // The new template first (upstream `reconcileNewReplicaSet`).
    if new.len() > replicas {
        return Step {
            create: 0,
            delete: names(new, new.len() - replicas),
        };
    }
    let total = new.len() + old.len();
    let room = (replicas + surge).saturating_sub(total);
    let up = room.min(replicas - new.len());
    if up > 0 {
        return Step {
            create: up,
            delete: vec![],
        };
    }
    // Then the old ones (upstream `reconcileOldReplicaSets`): never below
    // replicas - maxUnavailable available, counting the new pods that are not ready yet.
    if old.is_empty() {
        return Step::default();
    }
    let min_available = replicas.saturating_sub(unavailable);
    let new_unavailable = new.iter().filter(|p| !is_ready(p)).count();
    let max_scaled_down = total as isize - min_available as isize - new_unavailable as isize;
    if max_scaled_down <= 0 {
        return Step::default();
    }
    // Unhealthy old pods go first: they do not count toward availability anyway.
    let (old_ready, old_unready): (Vec<&Pod>, Vec<&Pod>) = old.iter().partition(|p| is_ready(p));
    let mut delete = names(&old_unready, max_scaled_down as usize);
    let available = new.len() - new_unavailable + old_ready.len();
    let more = available.saturating_sub(min_available).min(old_ready.len());
    delete.extend(names(&old_ready, more));
    Step { create: 0, delete }
}

/// Recreate: every old pod goes, and new ones come only once none is left, terminating
/// ones included.
fn recreate(pods: &[Pod], hash: &str, new: &[&Pod], old: &[&Pod], replicas: usize) -> Step {
    if !old.is_empty() {
        return Step {
            create: 0,
            delete: names(old, old.len()),
        };
    }
    let old_terminating = pods
        .iter()
        .any(|p| template_hash(p) != Some(hash) && p.metadata.deletion_timestamp.is_some());
    if old_terminating {
        return Step::default();
    }
    if new.len() > replicas {
        Step {
            create: 0,
            delete: names(new, new.len() - replicas),
        }
    } else {
        Step {
            create: replicas - new.len(),
            delete: vec![],
        }
    }
}

fn status(
    d: &Deployment,
    active: &[&Pod],
    updated: usize,
    replicas: usize,
    max_unavailable: usize,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let ready = active.iter().filter(|p| is_ready(p)).count();
    let available = ready;
    let complete = updated == replicas && active.len() == replicas && available == replicas;
    let conds = old.conditions.clone().unwrap_or_default();
    let available_cond = if available + max_unavailable >= replicas {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let name = d.name_any();
    let progressing = if complete {
        (
            "True",
            "NewReplicaSetAvailable",
            format!("Deployment \"{name}\" has successfully progressed."),
        )
    } else {
        (
            "True",
            "ReplicaSetUpdated",
            format!("Deployment \"{name}\" is progressing."),
        )
    };
    DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(active.len() as i32),
        updated_replicas: Some(updated as i32),
        ready_replicas: Some(ready as i32),
        available_replicas: Some(available as i32),
        unavailable_replicas: Some(replicas.max(active.len()).saturating_sub(available) as i32),
        collision_count: old.collision_count,
        conditions: Some(vec![
            condition(
                &conds,
                "Available",
                available_cond.0,
                available_cond.1,
                available_cond.2,
                &now,
            ),
            condition(
                &conds,
                "Progressing",
                progressing.0,
                progressing.1,
                &progressing.2,
                &now,
            ),
        ]),
        terminating_replicas: None,
    }
}

/// A condition that keeps its times while it says the same thing.
fn condition(
    old: &[DeploymentCondition],
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: &Timestamp,
) -> DeploymentCondition {
    if let Some(c) = old.iter().find(|c| c.type_.as_deref() == Some(type_))
        && c.status.as_deref() == Some(status)
        && c.reason.as_deref() == Some(reason)
        && c.message.as_deref() == Some(message)
    {
        return c.clone();
    }
    let now = Time(*now);
    DeploymentCondition {
        type_: Some(type_.into()),
        status: Some(status.into()),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(now.clone()),
        last_update_time: Some(now),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
