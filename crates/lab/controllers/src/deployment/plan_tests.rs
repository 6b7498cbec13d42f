use k8s_openapi::api::apps::v1::{
    DeploymentCondition, DeploymentSpec, DeploymentStrategy, ReplicaSetStatus,
    RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::PodStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::*;
use crate::deployment::replica_sets::{REVISION, REVISION_HISTORY};
use crate::fixture::{labelled_template, stored};
use crate::hash::LABEL;

fn deployment(replicas: i32, image: &str, f: impl FnOnce(&mut DeploymentSpec)) -> Deployment {
    let (selector, template) = labelled_template(("app", "web"), "web", image);
    let mut spec = DeploymentSpec {
        replicas: Some(replicas),
        selector,
        template,
        ..Default::default()
    };
    f(&mut spec);
    Deployment {
        metadata: stored("web", "default", "d-uid", 2),
        spec,
        status: None,
    }
}

fn strategy(type_: &str, surge: i32, unavailable: i32) -> impl FnOnce(&mut DeploymentSpec) {
    let type_ = type_.to_string();
    move |s| {
        s.strategy = Some(DeploymentStrategy {
            rolling_update: (type_ == "RollingUpdate").then_some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(surge)),
                max_unavailable: Some(IntOrString::Int(unavailable)),
            }),
            type_: Some(type_),
        })
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).unwrap()
}

/// The world the deployment controller acts on: its ReplicaSets, whose pods come up at
/// once (ready or not), as the ReplicaSet controller and a kubelet would make them.
struct World {
    sets: Vec<ReplicaSet>,
    created: i64,
}

// === impl World ===

impl World {
    fn new() -> Self {
        World {
            sets: vec![],
            created: 0,
        }
    }

    /// Applies a plan's changes; `ready`: whether new pods become ready.
    fn apply(&mut self, p: &Plan, ready: bool) {
        for change in &p.changes {
            match change {
                Change::Create(rs) => {
                    let mut rs = (**rs).clone();
                    self.created += 1;
                    rs.metadata.uid = Some(format!("rs-{}", self.created));
                    rs.metadata.creation_timestamp =
                        Some(Time(Timestamp::from_second(self.created).unwrap()));
                    self.sets.push(rs);
                }
                Change::Update {
                    name,
                    replicas,
                    annotations,
                    ..
                } => {
                    let rs = self.get_mut(name);
                    rs.spec.replicas = Some(*replicas);
                    rs.metadata
                        .annotations
                        .get_or_insert_with(Default::default)
                        .extend(annotations.clone());
                }
                Change::Delete(name) => self
                    .sets
                    .retain(|rs| rs.metadata.name.as_ref() != Some(name)),
            }
        }
        for rs in &mut self.sets {
            let want = rs.spec.replicas.unwrap_or(0);
            let before = rs
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            let available = if ready { want } else { before.min(want) };
            rs.status = Some(ReplicaSetStatus {
                replicas: want,
                ready_replicas: Some(available),
                available_replicas: Some(available),
                observed_generation: rs.metadata.generation,
                ..Default::default()
            });
        }
    }

    fn get_mut(&mut self, name: &str) -> &mut ReplicaSet {
        self.sets
            .iter_mut()
            .find(|rs| rs.metadata.name.as_deref() == Some(name))
            .unwrap()
    }

    fn replicas(&self) -> Vec<(String, i32)> {
        self.sets
            .iter()
            .map(|rs| (rs.metadata.name.clone().unwrap(), rs.spec.replicas.unwrap()))
            .collect()
    }

    /// Syncs until nothing changes, checking maxSurge and maxUnavailable at every step.
    /// Returns the deployment with the last status, and the number of steps.
    fn converge(&mut self, d: &Deployment, ready: bool) -> (Deployment, usize) {
        let mut d = d.clone();
        let replicas = d.spec.replicas.unwrap();
        let (surge, unavailable) = rolling_limits(&d, replicas as usize);
        let available = |w: &World| -> i32 {
            w.sets
                .iter()
                .filter_map(|rs| rs.status.as_ref()?.available_replicas)
                .sum()
        };
        let fully_available = available(self) == replicas;
        for step in 0..100 {
            let p = plan(&d, &self.sets, &[], now());
            if let Some(r) = &p.revision {
                d.metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(REVISION.into(), r.clone());
            }
            let unchanged = p.changes.is_empty() && d.status.as_ref() == Some(&p.status);
            d.status = Some(p.status.clone());
            if unchanged {
                return (d, step);
            }
            self.apply(&p, ready);
            let total: i32 = self.sets.iter().map(|rs| rs.spec.replicas.unwrap()).sum();
            assert!(total <= replicas + surge as i32, "surge exceeded: {total}");
            if fully_available && ready {
                assert!(
                    available(self) + unavailable as i32 >= replicas,
                    "availability fell to {}",
                    available(self)
                );
            }
        }
        panic!("the rollout did not converge: {:?}", self.replicas());
    }
}

fn condition<'a>(d: &'a Deployment, type_: &str) -> &'a DeploymentCondition {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_.as_deref() == Some(type_)))
        .unwrap_or_else(|| panic!("no {type_} condition"))
}

fn hash_of(d: &Deployment) -> String {
    pod_template_hash(&d.spec.template, None)
}

#[test]
fn new_deployment_creates_its_replica_set_at_revision_one() {
    let d = deployment(3, "nginx:1", |_| {});
    let p = plan(&d, &[], &[], now());
    let [Change::Create(rs)] = p.changes.as_slice() else {
        panic!("{:?}", p.changes)
    };
    let hash = hash_of(&d);
    assert_eq!(
        rs.metadata.name.as_deref(),
        Some(format!("web-{hash}").as_str())
    );
    assert_eq!(
        rs.spec.replicas,
        Some(3),
        "25% surge of 3 rounds up to 1: 3 fit"
    );
    assert_eq!(rs.spec.selector.match_labels.as_ref().unwrap()[LABEL], hash);
    let labels = rs
        .spec
        .template
        .as_ref()
        .unwrap()
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone();
    assert_eq!(labels.unwrap()[LABEL], hash);
    assert_eq!(rs.annotations()[REVISION], "1");
    let owner = &rs.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("Deployment", "d-uid", Some(true))
    );
    assert_eq!(p.revision.as_deref(), Some("1"));
    let mut d = d;
    d.status = Some(p.status);
    let progressing = condition(&d, "Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetCreated"));
    assert_eq!(
        progressing.message.as_deref(),
        Some(format!("Created new replica set \"web-{hash}\"").as_str())
    );
}

#[test]
fn rolling_update_moves_every_replica_to_the_new_replica_set_within_the_limits() {
    let cases = [
        ("defaults 25%/25%", 4, None),
        ("surge 3, unavailable 2", 10, Some((3, 2))),
        ("no surge", 4, Some((0, 1))),
        ("no unavailability", 3, Some((1, 0))),
    ];
    for (name, replicas, limits) in cases {
        let set_limits = |s: &mut DeploymentSpec| {
            if let Some((surge, unavailable)) = limits {
                strategy("RollingUpdate", surge, unavailable)(s)
            }
        };
        let mut world = World::new();
        let v1 = deployment(replicas, "nginx:1", set_limits);
        let (v1, _) = world.converge(&v1, true);
        let mut v2 = deployment(replicas, "nginx:2", set_limits);
        v2.metadata.annotations = v1.metadata.annotations.clone();
        v2.status = v1.status.clone();
        let (done, steps) = world.converge(&v2, true);
        assert!(steps >= 2, "{name}: a rollout takes several steps");
        let new_name = format!("web-{}", hash_of(&v2));
        let want = vec![
            (format!("web-{}", hash_of(&v1)), 0),
            (new_name.clone(), replicas),
        ];
        assert_eq!(world.replicas(), want, "{name}");
        let s = done.status.clone().unwrap();
        assert_eq!(
            (
                s.replicas,
                s.updated_replicas,
                s.available_replicas,
                s.unavailable_replicas
            ),
            (Some(replicas), Some(replicas), Some(replicas), None),
            "{name}"
        );
        let progressing = condition(&done, "Progressing");
        assert_eq!(
            progressing.reason.as_deref(),
            Some("NewReplicaSetAvailable"),
            "{name}"
        );
        assert_eq!(
            progressing.message.as_deref(),
            Some(format!("ReplicaSet \"{new_name}\" has successfully progressed.").as_str())
        );
        assert_eq!(
            condition(&done, "Available").reason.as_deref(),
            Some("MinimumReplicasAvailable")
        );
        assert_eq!(done.annotations()[REVISION], "2", "{name}");
    }
}

#[test]
fn new_pods_that_never_become_ready_hold_the_rollout_within_max_unavailable() {
    let mut world = World::new();
    let (v1, _) = world.converge(&deployment(4, "nginx:1", |_| {}), true);
    let mut v2 = deployment(4, "nginx:2", |_| {});
    v2.status = v1.status.clone();
    let (stalled, _) = world.converge(&v2, false);
    // One surge pod and one unavailable allowed: the new set gets 2, the old keeps 3.
    assert_eq!(
        world.replicas(),
        [
            (format!("web-{}", hash_of(&v1)), 3),
            (format!("web-{}", hash_of(&v2)), 2)
        ]
    );
    let progressing = condition(&stalled, "Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("ReplicaSetUpdated"));
}

#[test]
fn recreate_scales_old_sets_to_zero_and_waits_for_their_pods_before_the_new_one() {
    let recreate = |s: &mut DeploymentSpec| strategy("Recreate", 0, 0)(s);
    let mut world = World::new();
    let (v1, _) = world.converge(&deployment(2, "nginx:1", recreate), true);
    let mut v2 = deployment(2, "nginx:2", recreate);
    v2.status = v1.status.clone();
    let p = plan(&v2, &world.sets, &[], now());
    assert!(
        matches!(p.changes.as_slice(), [Change::Update { replicas: 0, .. }]),
        "{:?}",
        p.changes
    );
    world.apply(&p, true);
    // The old set's pod is still running: nothing new yet.
    let old_uid = world.sets[0].metadata.uid.clone().unwrap();
    let running = Pod {
        metadata: ObjectMeta {
            owner_references: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    uid: old_uid,
                    controller: Some(true),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        },
        spec: None,
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    };
    assert!(plan(&v2, &world.sets, &[running], now()).changes.is_empty());
    let p = plan(&v2, &world.sets, &[], now());
    assert!(matches!(p.changes.as_slice(), [Change::Create(rs)] if rs.spec.replicas == Some(2)));
}

#[test]
fn paused_deployment_scales_but_does_not_roll() {
    let mut world = World::new();
    let (v1, _) = world.converge(&deployment(2, "nginx:1", |_| {}), true);
    let mut v2 = deployment(5, "nginx:2", |s| s.paused = Some(true));
    v2.status = v1.status.clone();
    let (paused, _) = world.converge(&v2, true);
    assert_eq!(world.replicas(), [(format!("web-{}", hash_of(&v1)), 5)]);
    let progressing = condition(&paused, "Progressing");
    assert_eq!(
        (progressing.status.as_deref(), progressing.reason.as_deref()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );
    let mut resumed = paused.clone();
    resumed.spec.paused = None;
    let p = plan(&resumed, &world.sets, &[], now());
    assert!(p.changes.iter().any(|c| matches!(c, Change::Create(_))));
}

#[test]
fn rollback_to_an_old_template_reuses_its_replica_set_at_a_new_revision() {
    let mut world = World::new();
    let (v1, _) = world.converge(&deployment(2, "nginx:1", |_| {}), true);
    let mut v2 = deployment(2, "nginx:2", |_| {});
    v2.status = v1.status.clone();
    v2.metadata.annotations = v1.metadata.annotations.clone();
    let (v2, _) = world.converge(&v2, true);
    let mut back = deployment(2, "nginx:1", |_| {});
    back.status = v2.status.clone();
    back.metadata.annotations = v2.metadata.annotations.clone();
    let (back, _) = world.converge(&back, true);
    assert_eq!(world.sets.len(), 2, "no third ReplicaSet");
    let old = &world.sets[0];
    assert_eq!(old.spec.replicas, Some(2));
    assert_eq!(
        (
            old.annotations()[REVISION].as_str(),
            old.annotations()[REVISION_HISTORY].as_str()
        ),
        ("3", "1")
    );
    assert_eq!(back.annotations()[REVISION], "3");
}

#[test]
fn old_replica_sets_beyond_the_history_limit_are_deleted_lowest_revision_first() {
    let mut world = World::new();
    let mut d = deployment(1, "v0", |s| s.revision_history_limit = Some(1));
    for image in ["v1", "v2", "v3"] {
        let mut next = deployment(1, image, |s| s.revision_history_limit = Some(1));
        (next.status, next.metadata.annotations) = (d.status, d.metadata.annotations);
        (d, _) = world.converge(&next, true);
    }
    let names: Vec<String> = world.replicas().into_iter().map(|(n, _)| n).collect();
    let hash = |image| format!("web-{}", hash_of(&deployment(1, image, |_| {})));
    assert_eq!(names, [hash("v2"), hash("v3")]);
}

#[test]
fn orphaned_replica_sets_matching_the_selector_are_adopted() {
    let d = deployment(1, "nginx:1", |_| {});
    let mut orphan = new_replica_set_for_test(&d);
    orphan.metadata.owner_references = None;
    let mut other = orphan.clone();
    other.metadata.name = Some("other".into());
    other.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
    let p = plan(&d, &[orphan, other], &[], now());
    assert_eq!(p.adopt, [format!("web-{}", hash_of(&d))]);
    assert!(
        !p.changes.iter().any(|c| matches!(c, Change::Create(_))),
        "the adopted set is the new one"
    );
}

fn new_replica_set_for_test(d: &Deployment) -> ReplicaSet {
    let p = plan(d, &[], &[], now());
    let Some(Change::Create(rs)) = p.changes.into_iter().next() else {
        panic!()
    };
    *rs
}

#[test]
fn a_rollout_without_progress_past_its_deadline_times_out() {
    let mut world = World::new();
    let (v1, _) = world.converge(&deployment(2, "nginx:1", |_| {}), true);
    let mut v2 = deployment(2, "nginx:2", |s| s.progress_deadline_seconds = Some(60));
    v2.status = v1.status.clone();
    let (mut stalled, _) = world.converge(&v2, false);
    let p = plan(&stalled, &world.sets, &[], now());
    assert!(p.requeue_after.is_some(), "the deadline is watched");
    let later = Timestamp::from_second(1_000_000 + 61).unwrap();
    let p = plan(&stalled, &world.sets, &[], later);
    stalled.status = Some(p.status);
    let progressing = condition(&stalled, "Progressing");
    assert_eq!(
        (progressing.status.as_deref(), progressing.reason.as_deref()),
        (Some("False"), Some("ProgressDeadlineExceeded"))
    );
    assert_eq!(
        progressing.message.as_deref(),
        Some(
            format!(
                "ReplicaSet \"web-{}\" has timed out progressing.",
                hash_of(&v2)
            )
            .as_str()
        )
    );
}

#[test]
fn zero_surge_and_zero_unavailable_resolve_to_one_unavailable() {
    let d = deployment(4, "x", strategy("RollingUpdate", 0, 0));
    assert_eq!(rolling_limits(&d, 4), (0, 1));
    // Percentages: surge rounds up, unavailable rounds down.
    let d = deployment(10, "x", |s| {
        s.strategy = Some(DeploymentStrategy {
            type_: None,
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::String("15%".into())),
                max_unavailable: Some(IntOrString::String("15%".into())),
            }),
        })
    });
    assert_eq!(rolling_limits(&d, 10), (2, 1));
}
