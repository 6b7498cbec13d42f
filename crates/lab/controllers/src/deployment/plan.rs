//! One sync of a Deployment (upstream `syncDeployment`): from the Deployment, the
//! ReplicaSets of its namespace and (for Recreate) its pods, to the changes to its
//! ReplicaSets and its status. Like upstream's `rolloutRolling`, a sync either scales the
//! new ReplicaSet or scales old ones down; the ReplicaSets' own updates bring the next sync.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::replica_sets::{
    equal_ignore_hash, new_annotations, new_replica_set, replica_annotations, revision, template,
};
use super::status::{self, Counts, NewSet};
use crate::hash::pod_template_hash;
use crate::pods::{controller_uid, phase};
use crate::selector;

/// A change to one of the Deployment's ReplicaSets. Where the replica count changes,
/// upstream records a `ScalingReplicaSet` event ("Scaled up replica set web-5d59 from 0
/// to 3").
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Create(Box<ReplicaSet>),
    /// Sets `spec.replicas` and merges `annotations` into the ReplicaSet's.
    Update {
        name: String,
        from: i32,
        replicas: i32,
        annotations: BTreeMap<String, String>,
    },
    /// An old, scaled-down ReplicaSet beyond `revisionHistoryLimit`.
    Delete(String),
}

/// What one sync does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Orphaned ReplicaSets the selector matches, to adopt.
    pub adopt: Vec<String>,
    pub changes: Vec<Change>,
    /// The Deployment's `deployment.kubernetes.io/revision`, when it must change.
    pub revision: Option<String>,
    pub status: DeploymentStatus,
    /// Look again after this long though nothing changes (the progress deadline).
    pub requeue_after: Option<Duration>,
}

/// One ReplicaSet during the sync: its counts and the replicas this sync gives it.
struct Set<'a> {
    rs: &'a ReplicaSet,
    replicas: i32,
    annotations: BTreeMap<String, String>,
}

// === impl Set ===

impl Set<'_> {
    fn status(&self, f: fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> Option<i32>) -> i32 {
        self.rs.status.as_ref().and_then(f).unwrap_or(0)
    }
    fn available(&self) -> i32 {
        self.status(|s| s.available_replicas)
    }
    fn counts(&self) -> Counts {
        Counts {
            desired: self.replicas.max(0) as usize,
            replicas: self.status(|s| Some(s.replicas)).max(0) as usize,
            ready: self.status(|s| s.ready_replicas).max(0) as usize,
            available: self.available().max(0) as usize,
        }
    }
}

/// `replica_sets`: those of the Deployment's namespace; `pods`: its pods (only Recreate
/// looks at them).
pub fn plan(d: &Deployment, replica_sets: &[ReplicaSet], pods: &[Pod], now: Timestamp) -> Plan {
    let uid = d.uid().unwrap_or_default();
    let mut adopt = Vec::new();
    let mut owned: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| match controller_uid(*rs) {
            Some(owner) => owner == uid,
            None => {
                let ok = rs.metadata.deletion_timestamp.is_none()
                    && selector::matches(&d.spec.selector, rs.labels());
                if ok {
                    adopt.push(rs.name_any());
                }
                ok
            }
        })
        .collect();
    // Oldest first, as upstream sorts them for scaling down and for finding the new one.
    owned.sort_by_key(|rs| {
        (
            rs.metadata.creation_timestamp.clone().map(|t| t.0),
            rs.name_any(),
        )
    });
    let replicas = d.spec.replicas.unwrap_or(1).max(0);
    let (surge, unavailable) = rolling_limits(d, replicas as usize);
    let recreate = strategy(d) == Some("Recreate");
    let max_replicas = if recreate {
        replicas
    } else {
        replicas + surge as i32
    };
    let paused = d.spec.paused == Some(true);

    let mut sets: Vec<Set> = owned
        .iter()
        .map(|rs| Set {
            rs,
            replicas: rs.spec.replicas.unwrap_or(0),
            annotations: rs.annotations().clone(),
        })
        .collect();
    let new_index = sets
        .iter()
        .position(|s| template(s.rs).is_some_and(|t| equal_ignore_hash(t, &d.spec.template)));
    let next_revision = sets
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != new_index)
        .map(|(_, s)| revision(s.rs))
        .max()
        .unwrap_or(0)
        + 1;
    if let Some(i) = new_index {
        let set = &mut sets[i];
        set.annotations = new_annotations(d, &set.annotations, next_revision);
    }
    let mut ctx = Sync {
        sets,
        new: new_index,
        created: None,
        replicas,
    };
    if paused {
        ctx.scale_single_active();
    } else if recreate {
        ctx.recreate(d, pods, max_replicas, next_revision);
    } else {
        ctx.rolling(
            d,
            surge as i32,
            unavailable as i32,
            max_replicas,
            next_revision,
        );
    }
    let counts: Vec<Counts> = ctx.sets.iter().map(Set::counts).collect();
    let new_counts = ctx.new.map(|i| counts[i]);
    let new_name = ctx.new.map(|i| ctx.sets[i].rs.name_any());
    let new_set = match (&ctx.created, &new_name) {
        (Some(rs), _) => NewSet::Created(rs.metadata.name.as_deref().unwrap_or("")),
        (None, Some(name)) => NewSet::Existing(name),
        (None, None) => NewSet::None,
    };
    let (status, requeue_after) = status::status(d, &counts, new_counts, new_set, unavailable, now);
    let mut changes = Vec::new();
    if let Some(rs) = ctx.created.clone() {
        changes.push(Change::Create(Box::new(rs)));
    }
    for set in &ctx.sets {
        let from = set.rs.spec.replicas.unwrap_or(0);
        if set.replicas != from || &set.annotations != set.rs.annotations() {
            changes.push(Change::Update {
                name: set.rs.name_any(),
                from,
                replicas: set.replicas,
                annotations: set.annotations.clone(),
            });
        }
    }
    if paused || status::complete(d, &status) {
        changes.extend(ctx.cleanup(d).into_iter().map(Change::Delete));
    }
    let revision = ctx
        .created
        .as_ref()
        .map(|rs| rs.annotations().clone())
        .or_else(|| ctx.new.map(|i| ctx.sets[i].annotations.clone()))
        .and_then(|a| a.get(super::replica_sets::REVISION).cloned())
        .filter(|r| d.annotations().get(super::replica_sets::REVISION) != Some(r));
    Plan {
        adopt,
        changes,
        revision,
        status,
        requeue_after,
    }
}

fn strategy(d: &Deployment) -> Option<&str> {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref())
}

struct Sync<'a> {
    sets: Vec<Set<'a>>,
    /// Index of the new ReplicaSet in `sets` (the one with the Deployment's template).
    new: Option<usize>,
    /// The new ReplicaSet, when this sync creates it.
    created: Option<ReplicaSet>,
    replicas: i32,
}

// === impl Sync ===

impl<'a> Sync<'a> {
    fn total(&self) -> i32 {
        self.sets.iter().map(|s| s.replicas).sum::<i32>() + self.created_replicas()
    }

    fn created_replicas(&self) -> i32 {
        self.created
            .as_ref()
            .and_then(|rs| rs.spec.replicas)
            .unwrap_or(0)
    }

    fn old(&self) -> impl Iterator<Item = &Set<'a>> {
        let new = self.new;
        self.sets
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != new)
            .map(|(_, s)| s)
    }

    fn create(&mut self, d: &Deployment, replicas: i32, revision: i64, max_replicas: i32) {
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let hash = pod_template_hash(&d.spec.template, collision);
        let mut annotations = new_annotations(d, &BTreeMap::new(), revision);
        annotations.extend(replica_annotations(d, max_replicas));
        self.created = Some(new_replica_set(d, &hash, replicas, annotations));
    }

    fn scale(&mut self, index: usize, replicas: i32, d: &Deployment, max_replicas: i32) {
        let set = &mut self.sets[index];
        if set.replicas != replicas {
            set.replicas = replicas;
            set.annotations.extend(replica_annotations(d, max_replicas));
        }
    }

    /// Upstream `rolloutRolling`: the new ReplicaSet up within maxSurge, else the old ones
    /// down within maxUnavailable, unhealthy replicas first.
    fn rolling(&mut self, d: &Deployment, surge: i32, unavailable: i32, max: i32, revision: i64) {
        let replicas = self.replicas;
        let Some(new) = self.new else {
            let up = (replicas + surge - self.total()).clamp(0, replicas);
            self.create(d, up, revision, max);
            return;
        };
        let current = self.sets[new].replicas;
        if current > replicas {
            self.scale(new, replicas, d, max);
            return;
        }
        if current < replicas {
            let up = (replicas + surge - self.total()).clamp(0, replicas - current);
            if up > 0 {
                self.scale(new, current + up, d, max);
                return;
            }
        }
        let min_available = replicas - unavailable;
        let new_unavailable = self.sets[new].replicas - self.sets[new].available();
        let mut budget = self.total() - min_available - new_unavailable;
        if budget <= 0 {
            return;
        }
        let old: Vec<usize> = (0..self.sets.len())
            .filter(|i| Some(*i) != self.new)
            .collect();
        let mut targets: Vec<(usize, i32)> =
            old.iter().map(|&i| (i, self.sets[i].replicas)).collect();
        for (i, target) in &mut targets {
            let unhealthy = (*target - self.sets[*i].available()).max(0);
            let down = unhealthy.min(budget);
            *target -= down;
            budget -= down;
        }
        let available: i32 = self.sets.iter().map(Set::available).sum();
        let mut excess = (available - min_available).max(0);
        for (_, target) in &mut targets {
            let down = (*target).min(excess);
            *target -= down;
            excess -= down;
        }
        for (i, target) in targets {
            self.scale(i, target, d, max);
        }
    }

    /// Upstream `rolloutRecreate`: every old ReplicaSet to zero, and the new one only once
    /// none of their pods runs.
    fn recreate(&mut self, d: &Deployment, pods: &[Pod], max: i32, revision: i64) {
        let new = self.new;
        let mut scaled_down = false;
        for i in 0..self.sets.len() {
            if Some(i) != new && self.sets[i].replicas > 0 {
                self.scale(i, 0, d, max);
                scaled_down = true;
            }
        }
        if scaled_down {
            return;
        }
        let old_uids: Vec<String> = self
            .sets
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != new)
            .filter_map(|(_, s)| s.rs.uid())
            .collect();
        let old_running = pods.iter().any(|p| {
            controller_uid(p).is_some_and(|u| old_uids.iter().any(|o| o == u))
                && !matches!(phase(p), Some("Succeeded" | "Failed"))
        });
        let old_counted = self
            .old()
            .any(|s| s.rs.status.as_ref().is_some_and(|st| st.replicas > 0));
        if old_running || old_counted {
            return;
        }
        match new {
            None => self.create(d, self.replicas, revision, max),
            Some(i) => self.scale(i, self.replicas, d, max),
        }
    }

    /// A paused Deployment is only scaled (upstream `scale`), when one ReplicaSet is active.
    fn scale_single_active(&mut self) {
        let active: Vec<usize> = (0..self.sets.len())
            .filter(|i| self.sets[*i].replicas > 0)
            .collect();
        let target = match active.as_slice() {
            [one] => Some(*one),
            [] => self.new,
            _ => None,
        };
        if let Some(i) = target {
            self.sets[i].replicas = self.replicas;
        }
    }

    /// Old ReplicaSets beyond `revisionHistoryLimit`, lowest revisions first, that have
    /// no replicas left (upstream `cleanupDeployment`).
    fn cleanup(&self, d: &Deployment) -> Vec<String> {
        let limit = d.spec.revision_history_limit.unwrap_or(10).max(0) as usize;
        let mut old: Vec<&Set> = self
            .sets
            .iter()
            .enumerate()
            .filter(|(i, s)| Some(*i) != self.new && s.rs.metadata.deletion_timestamp.is_none())
            .map(|(_, s)| s)
            .collect();
        if old.len() <= limit {
            return vec![];
        }
        let excess = old.len() - limit;
        old.sort_by_key(|s| revision(s.rs));
        old.iter()
            .filter(|s| {
                s.replicas == 0
                    && s.rs.status.as_ref().is_none_or(|st| st.replicas == 0)
                    && s.rs.status.as_ref().and_then(|st| st.observed_generation)
                        >= s.rs.metadata.generation
            })
            .take(excess)
            .map(|s| s.rs.name_any())
            .collect()
    }
}

/// maxSurge (rounded up) and maxUnavailable (rounded down) as counts; both zero would
/// deadlock, so maxUnavailable becomes 1 then (upstream `ResolveFenceposts`). Recreate has
/// neither surge nor tolerance.
pub fn rolling_limits(d: &Deployment, replicas: usize) -> (usize, usize) {
    if strategy(d) == Some("Recreate") {
        return (0, 0);
    }
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

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
