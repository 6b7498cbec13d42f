use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{Container, PodCondition, PodSpec, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::*;
use crate::deployment::hash::LABEL;

fn deployment(replicas: i32, image: &str, f: impl FnOnce(&mut DeploymentSpec)) -> Deployment {
    let labels: std::collections::BTreeMap<String, String> =
        [("app".to_string(), "web".to_string())].into();
    let mut spec = DeploymentSpec {
        replicas: Some(replicas),
        selector: LabelSelector {
            match_labels: Some(labels.clone()),
            ..Default::default()
        },
        template: PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some(labels),
                ..Default::default()
            }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "web".into(),
                    image: Some(image.into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        },
        ..Default::default()
    };
    f(&mut spec);
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            uid: Some("d-uid".into()),
            generation: Some(2),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

fn pod(name: &str, hash: &str, ready: bool, age_secs: i64) -> Pod {
    let created = Timestamp::from_second(1_000_000 - age_secs).unwrap();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([(LABEL.to_string(), hash.to_string())].into()),
            creation_timestamp: Some(Time(created)),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).unwrap()
}

fn hash_of(d: &Deployment) -> String {
    pod_template_hash(&d.spec.template, None)
}

/// Runs syncs until nothing is left to do, checking the rolling invariants at every step:
/// never more than replicas + maxSurge pods, never fewer than replicas - maxUnavailable
/// available once the rollout has begun from a fully available state.
fn simulate(d: &Deployment, mut pods: Vec<Pod>, new_pods_ready: bool) -> (Vec<Pod>, usize) {
    let replicas = d.spec.replicas.unwrap() as usize;
    let (surge, unavailable) = rolling_limits(d, replicas);
    let all_ready_at_start = pods.iter().all(is_ready) && pods.len() == replicas;
    let mut counter = 0;
    for steps in 0..100 {
        let p = plan(d, &pods, now());
        if p.create == 0 && p.delete.is_empty() {
            return (pods, steps);
        }
        pods.retain(|x| !p.delete.contains(&x.name_any()));
        for _ in 0..p.create {
            counter += 1;
            pods.push(pod(
                &format!("new-{counter}"),
                &p.hash,
                new_pods_ready,
                -counter,
            ));
        }
        assert!(
            pods.len() <= replicas + surge,
            "surge exceeded: {}",
            pods.len()
        );
        if all_ready_at_start && new_pods_ready {
            let available = pods.iter().filter(|x| is_ready(x)).count();
            assert!(
                available + unavailable >= replicas,
                "availability fell to {available}"
            );
        }
    }
    panic!("the rollout did not converge");
}

#[test]
fn new_deployment_creates_its_replicas_with_the_template_hash() {
    let d = deployment(3, "nginx:1", |_| {});
    let p = plan(&d, &[], now());
    assert_eq!(p.create, 3);
    assert_eq!(p.hash, hash_of(&d));
    assert!(p.delete.is_empty());
}

#[test]
fn scale_down_deletes_unready_and_newest_pods_first() {
    let d = deployment(2, "nginx:1", |_| {});
    let h = hash_of(&d);
    let pods = vec![
        pod("old-ready", &h, true, 100),
        pod("young-ready", &h, true, 10),
        pod("unready", &h, false, 200),
        pod("middle-ready", &h, true, 50),
    ];
    let p = plan(&d, &pods, now());
    assert_eq!(p.delete, ["unready", "young-ready"]);
}

#[test]
fn terminating_pods_do_not_count_and_are_replaced() {
    let d = deployment(2, "nginx:1", |_| {});
    let h = hash_of(&d);
    let mut gone = pod("gone", &h, true, 10);
    gone.metadata.deletion_timestamp = Some(Time(now()));
    let p = plan(&d, &[pod("a", &h, true, 10), gone], now());
    assert_eq!(p.create, 1);
    assert_eq!(p.status.replicas, Some(1));
}

#[test]
fn rolling_update_keeps_surge_and_availability_with_ready_pods() {
    let old = deployment(4, "nginx:1", |_| {});
    let old_hash = hash_of(&old);
    let pods: Vec<Pod> = (0..4)
        .map(|i| pod(&format!("old-{i}"), &old_hash, true, 100))
        .collect();
    let d = deployment(4, "nginx:2", |_| {});
    let first = plan(&d, &pods, now());
    assert_eq!(
        (first.create, first.delete.len()),
        (1, 0),
        "25% of 4 surges by one"
    );
    let (end, steps) = simulate(&d, pods, true);
    assert_eq!(end.len(), 4);
    assert!(
        end.iter()
            .all(|p| template_hash(p) == Some(hash_of(&d).as_str()))
    );
    assert!(
        steps >= 4,
        "a rolling update takes several steps, took {steps}"
    );
}

#[test]
fn rolling_update_with_explicit_limits_moves_in_batches() {
    let old = deployment(10, "nginx:1", |_| {});
    let old_hash = hash_of(&old);
    let pods: Vec<Pod> = (0..10)
        .map(|i| pod(&format!("old-{i}"), &old_hash, true, 100))
        .collect();
    let d = deployment(10, "nginx:2", |s| {
        s.strategy = Some(DeploymentStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(3)),
                max_unavailable: Some(IntOrString::Int(2)),
            }),
        })
    });
    let first = plan(&d, &pods, now());
    assert_eq!(first.create, 3);
    let (end, _) = simulate(&d, pods, true);
    assert_eq!(end.len(), 10);
}

#[test]
fn rolling_update_stops_when_new_pods_never_become_ready() {
    // As upstream: unhealthy old pods may go (within maxUnavailable = 1 of 4), but new pods
    // that never become ready hold the rollout (until a kubelet reports them ready).
    let old = deployment(4, "nginx:1", |_| {});
    let old_hash = hash_of(&old);
    let pods: Vec<Pod> = (0..4)
        .map(|i| pod(&format!("old-{i}"), &old_hash, false, 100))
        .collect();
    let d = deployment(4, "nginx:2", |_| {});
    let (end, _) = simulate(&d, pods, false);
    let new = end
        .iter()
        .filter(|p| template_hash(p) == Some(hash_of(&d).as_str()))
        .count();
    assert_eq!((new, end.len() - new), (2, 3));
}

#[test]
fn rolling_update_with_zero_unavailable_waits_for_new_pods_to_be_ready() {
    // 25% of 3 rounds down to 0 unavailable: as upstream, the surge pod must become ready
    // before any old pod goes.
    let old = deployment(3, "nginx:1", |_| {});
    let old_hash = hash_of(&old);
    let pods: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("old-{i}"), &old_hash, true, 100))
        .collect();
    let d = deployment(3, "nginx:2", |_| {});
    let (stalled, _) = simulate(&d, pods.clone(), false);
    assert_eq!(stalled.len(), 4, "one surge pod, no old pod deleted");
    let (done, _) = simulate(&d, pods, true);
    assert_eq!(done.len(), 3);
    assert!(
        done.iter()
            .all(|p| template_hash(p) == Some(hash_of(&d).as_str()))
    );
}

#[test]
fn zero_surge_and_zero_unavailable_resolve_to_one_unavailable() {
    let d = deployment(4, "x", |s| {
        s.strategy = Some(DeploymentStrategy {
            type_: None,
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(0)),
                max_unavailable: Some(IntOrString::String("0%".into())),
            }),
        })
    });
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

#[test]
fn recreate_deletes_old_pods_and_waits_for_them_before_creating() {
    let old = deployment(2, "nginx:1", |_| {});
    let old_hash = hash_of(&old);
    let d = deployment(2, "nginx:2", |s| {
        s.strategy = Some(DeploymentStrategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        })
    });
    let pods = vec![pod("a", &old_hash, true, 10), pod("b", &old_hash, true, 10)];
    let p = plan(&d, &pods, now());
    assert_eq!((p.create, p.delete.len()), (0, 2));
    let mut terminating = pod("a", &old_hash, true, 10);
    terminating.metadata.deletion_timestamp = Some(Time(now()));
    let p = plan(&d, &[terminating], now());
    assert_eq!((p.create, p.delete.len()), (0, 0));
    assert_eq!(plan(&d, &[], now()).create, 2);
}

#[test]
fn paused_deployment_is_left_alone() {
    let d = deployment(3, "nginx", |s| s.paused = Some(true));
    assert_eq!(plan(&d, &[], now()).create, 0);
}

#[test]
fn status_counts_and_conditions_follow_the_pods() {
    let d = deployment(3, "nginx:1", |_| {});
    let h = hash_of(&d);
    let pods = vec![
        pod("a", &h, true, 10),
        pod("b", &h, true, 10),
        pod("c", &h, false, 10),
    ];
    let s = plan(&d, &pods, now()).status;
    assert_eq!(s.observed_generation, Some(2));
    assert_eq!(
        (s.replicas, s.updated_replicas, s.ready_replicas),
        (Some(3), Some(3), Some(2))
    );
    assert_eq!(
        (s.available_replicas, s.unavailable_replicas),
        (Some(2), Some(1))
    );
    let conds = s.conditions.clone().unwrap();
    assert_eq!(
        (conds[0].type_.as_deref(), conds[0].status.as_deref()),
        (Some("Available"), Some("False"))
    );
    assert_eq!(conds[1].reason.as_deref(), Some("ReplicaSetUpdated"));
    // A later sync that finds the same state keeps the condition times.
    let mut again = d.clone();
    again.status = Some(s.clone());
    let later = Timestamp::from_second(2_000_000).unwrap();
    assert_eq!(plan(&again, &pods, later).status, s);
}
