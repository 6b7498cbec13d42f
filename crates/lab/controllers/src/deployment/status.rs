//! A Deployment's status from its ReplicaSets (upstream `calculateStatus`), and its
//! Available and Progressing conditions (`syncRolloutStatus`, `checkPausedConditions`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::replicaset::plan::nonzero;

/// The counts of one ReplicaSet that the Deployment's status adds up.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// `spec.replicas` after this sync's scaling.
    pub desired: usize,
    pub replicas: usize,
    pub ready: usize,
    pub available: usize,
}

/// What happened to the new ReplicaSet in this sync.
pub enum NewSet<'a> {
    None,
    Created(&'a str),
    Existing(&'a str),
}

/// The new status and, while a rollout is under way, when its progress deadline falls.
pub fn status(
    d: &Deployment,
    all: &[Counts],
    new: Option<Counts>,
    new_set: NewSet<'_>,
    max_unavailable: usize,
    now: Timestamp,
) -> (DeploymentStatus, Option<Duration>) {
    let old = d.status.clone().unwrap_or_default();
    let replicas = d.spec.replicas.unwrap_or(1).max(0) as usize;
    let sum = |f: fn(&Counts) -> usize| all.iter().map(f).sum::<usize>();
    let available = sum(|c| c.available);
    let mut s = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nonzero(sum(|c| c.replicas)),
        updated_replicas: nonzero(new.map_or(0, |c| c.replicas)),
        ready_replicas: nonzero(sum(|c| c.ready)),
        available_replicas: nonzero(available),
        unavailable_replicas: nonzero(sum(|c| c.desired).saturating_sub(available)),
        terminating_replicas: None,
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
    };
    let mut conds = Conditions(s.conditions.take().unwrap_or_default(), now);
    if available + max_unavailable >= replicas {
        conds.set(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        );
    } else {
        conds.set(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        );
    }
    let subject = match new_set {
        NewSet::Created(name) => {
            conds.set(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                &format!("Created new replica set {name:?}"),
            );
            format!("ReplicaSet {name:?}")
        }
        NewSet::Existing(name) => {
            if conds.get("Progressing").is_none() {
                conds.set(
                    "Progressing",
                    "True",
                    "FoundNewReplicaSet",
                    &format!("Found new replica set {name:?}"),
                );
            }
            format!("ReplicaSet {name:?}")
        }
        NewSet::None => format!("Deployment {:?}", d.metadata.name.as_deref().unwrap_or("")),
    };
    let paused = d.spec.paused == Some(true);
    let reason = |c: &Conditions| c.get("Progressing").and_then(|c| c.reason.clone());
    if paused && reason(&conds).as_deref() != Some("DeploymentPaused") {
        conds.set(
            "Progressing",
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
        );
    } else if !paused && reason(&conds).as_deref() == Some("DeploymentPaused") {
        conds.set(
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed",
        );
    }
    let mut deadline = None;
    if !paused {
        deadline = progress(d, &old, &s, &mut conds, &subject, now);
    }
    s.conditions = Some(conds.0);
    (s, deadline)
}

/// Upstream `DeploymentComplete`.
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = d.spec.replicas.unwrap_or(1);
    s.updated_replicas.unwrap_or(0) == want
        && s.replicas.unwrap_or(0) == want
        && s.available_replicas.unwrap_or(0) == want
        && s.observed_generation >= d.metadata.generation
}

/// The Progressing condition of a rollout under way; returns the time left before its
/// deadline.
fn progress(
    d: &Deployment,
    old: &DeploymentStatus,
    s: &DeploymentStatus,
    conds: &mut Conditions,
    subject: &str,
    now: Timestamp,
) -> Option<Duration> {
    let current = conds.get("Progressing").cloned();
    let reason = current.as_ref().and_then(|c| c.reason.as_deref());
    if s.replicas == s.updated_replicas && reason == Some("NewReplicaSetAvailable") {
        return None;
    }
    let n = |v: Option<i32>| v.unwrap_or(0);
    let progressed = n(s.updated_replicas) > n(old.updated_replicas)
        || n(s.replicas) - n(s.updated_replicas) < n(old.replicas) - n(old.updated_replicas)
        || n(s.ready_replicas) > n(old.ready_replicas)
        || n(s.available_replicas) > n(old.available_replicas);
    let deadline = i64::from(d.spec.progress_deadline_seconds.unwrap_or(600));
    if complete(d, s) {
        let msg = format!("{subject} has successfully progressed.");
        conds.set("Progressing", "True", "NewReplicaSetAvailable", &msg);
        return None;
    }
    if progressed {
        let msg = format!("{subject} is progressing.");
        // Progress moves the deadline: a fresh lastUpdateTime, even for the same reason.
        let transition = current
            .as_ref()
            .filter(|c| c.status.as_deref() == Some("True"))
            .and_then(|c| c.last_transition_time.clone());
        conds
            .0
            .retain(|c| c.type_.as_deref() != Some("Progressing"));
        conds.0.push(DeploymentCondition {
            type_: Some("Progressing".into()),
            status: Some("True".into()),
            reason: Some("ReplicaSetUpdated".into()),
            message: Some(msg),
            last_transition_time: transition.or(Some(Time(now))),
            last_update_time: Some(Time(now)),
        });
        return Some(Duration::from_secs(deadline.max(0) as u64 + 1));
    }
    let since = conds
        .get("Progressing")
        .and_then(|c| c.last_update_time.clone())
        .map(|t| t.0);
    let ends = since.and_then(|t| t.checked_add(SignedDuration::from_secs(deadline)).ok());
    match (reason, ends) {
        (Some("ProgressDeadlineExceeded"), _) => None,
        (_, Some(ends)) if ends < now => {
            let msg = format!("{subject} has timed out progressing.");
            conds.set("Progressing", "False", "ProgressDeadlineExceeded", &msg);
            None
        }
        (_, Some(ends)) => {
            let left = ends.duration_since(now).as_secs().max(0) as u64;
            Some(Duration::from_secs(left + 1))
        }
        (_, None) => None,
    }
}

/// The status's conditions, set as upstream's `SetDeploymentCondition` does.
struct Conditions(Vec<DeploymentCondition>, Timestamp);

// === impl Conditions ===

impl Conditions {
    fn get(&self, type_: &str) -> Option<&DeploymentCondition> {
        self.0.iter().find(|c| c.type_.as_deref() == Some(type_))
    }

    /// Nothing changes while the status and reason stay; a new reason with the same status
    /// keeps the transition time.
    fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let now = Time(self.1);
        let transition = match self.get(type_) {
            Some(c)
                if c.status.as_deref() == Some(status) && c.reason.as_deref() == Some(reason) =>
            {
                return;
            }
            Some(c) if c.status.as_deref() == Some(status) => c.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        let cond = DeploymentCondition {
            type_: Some(type_.into()),
            status: Some(status.into()),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_transition_time: transition,
            last_update_time: Some(now),
        };
        match self
            .0
            .iter_mut()
            .find(|c| c.type_.as_deref() == Some(type_))
        {
            Some(c) => *c = cond,
            None => self.0.push(cond),
        }
    }
}
