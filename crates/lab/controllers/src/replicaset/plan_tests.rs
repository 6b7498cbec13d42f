use k8s_openapi::api::apps::v1::ReplicaSetSpec;
use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, ObjectMeta, OwnerReference, Time,
};

use super::*;

const UID: &str = "rs-uid";

fn replica_set(replicas: i32, f: impl FnOnce(&mut ReplicaSet)) -> ReplicaSet {
    let labels: std::collections::BTreeMap<String, String> =
        [("app".to_string(), "web".to_string())].into();
    let mut rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some("web-abc".into()),
            namespace: Some("default".into()),
            uid: Some(UID.into()),
            generation: Some(3),
            ..Default::default()
        },
        spec: ReplicaSetSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec::default()),
            }),
            ..Default::default()
        },
        status: None,
    };
    f(&mut rs);
    rs
}

/// A pod labelled app=web, controlled by `owner` (None: an orphan).
fn pod(name: &str, owner: Option<&str>, f: impl FnOnce(&mut Pod)) -> Pod {
    let mut p = Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("app".to_string(), "web".to_string())].into()),
            creation_timestamp: Some(Time(Timestamp::from_second(900_000).unwrap())),
            owner_references: owner.map(|uid| {
                vec![OwnerReference {
                    uid: uid.into(),
                    controller: Some(true),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some("n1".into()),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    };
    f(&mut p);
    p
}

fn ready(since: i64) -> impl FnOnce(&mut Pod) {
    move |p| {
        p.status.as_mut().unwrap().conditions = Some(vec![PodCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_transition_time: Some(Time(Timestamp::from_second(since).unwrap())),
            ..Default::default()
        }])
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).unwrap()
}

#[test]
fn creates_the_missing_replicas() {
    let p = plan(
        &replica_set(3, |_| {}),
        &[pod("a", Some(UID), |_| {})],
        now(),
    );
    assert_eq!((p.create, p.delete.len()), (2, 0));
    assert_eq!(p.status.replicas, 1);
    assert_eq!(p.status.observed_generation, Some(3));
}

#[test]
fn scale_down_deletes_unscheduled_then_pending_then_not_ready_pods_first() {
    let pods = vec![
        pod("ready", Some(UID), ready(1)),
        pod("unscheduled", Some(UID), |p| {
            p.spec.as_mut().unwrap().node_name = None;
            p.status.as_mut().unwrap().phase = Some("Pending".into());
        }),
        pod("pending", Some(UID), |p| {
            p.status.as_mut().unwrap().phase = Some("Pending".into())
        }),
        pod("not-ready", Some(UID), |_| {}),
    ];
    let cases = [
        (3, vec!["unscheduled"]),
        (2, vec!["unscheduled", "pending"]),
        (1, vec!["unscheduled", "pending", "not-ready"]),
        (4, vec![]),
    ];
    for (replicas, want) in cases {
        let p = plan(&replica_set(replicas, |_| {}), &pods, now());
        assert_eq!(p.delete, want, "replicas {replicas}");
        assert_eq!(p.create, 0);
    }
}

#[test]
fn newer_pods_go_before_older_ones_among_equals() {
    let old = pod("old", Some(UID), ready(1));
    let young = pod("young", Some(UID), |p| {
        ready(1)(p);
        p.metadata.creation_timestamp = Some(Time(Timestamp::from_second(950_000).unwrap()));
    });
    let p = plan(&replica_set(1, |_| {}), &[old, young], now());
    assert_eq!(p.delete, ["young"]);
}

#[test]
fn orphans_matching_the_selector_are_adopted_and_counted() {
    let pods = vec![
        pod("mine", Some(UID), |_| {}),
        pod("orphan", None, |_| {}),
        pod("someone-elses", Some("other"), |_| {}),
        pod("other-app", None, |p| {
            p.metadata.labels = Some([("app".to_string(), "db".to_string())].into())
        }),
        pod("terminating-orphan", None, |p| {
            p.metadata.deletion_timestamp = Some(Time(now()))
        }),
    ];
    let p = plan(&replica_set(2, |_| {}), &pods, now());
    assert_eq!(p.adopt, ["orphan"]);
    assert_eq!((p.create, p.delete.len()), (0, 0));
    assert_eq!(p.status.replicas, 2);
}

#[test]
fn own_pods_relabelled_out_of_the_selector_are_released_and_replaced() {
    let pods = vec![pod("quarantined", Some(UID), |p| {
        p.metadata.labels = Some([("app".to_string(), "debug".to_string())].into())
    })];
    let p = plan(&replica_set(1, |_| {}), &pods, now());
    assert_eq!(p.release, ["quarantined"]);
    assert_eq!(p.create, 1);
}

#[test]
fn a_replica_set_being_deleted_neither_adopts_nor_creates() {
    let rs = replica_set(2, |rs| rs.metadata.deletion_timestamp = Some(Time(now())));
    let p = plan(&rs, &[pod("orphan", None, |_| {})], now());
    assert_eq!((p.adopt.len(), p.create), (0, 0));
}

#[test]
fn finished_and_terminating_pods_are_replaced() {
    let pods = vec![
        pod("done", Some(UID), |p| {
            p.status.as_mut().unwrap().phase = Some("Failed".into())
        }),
        pod("going", Some(UID), |p| {
            p.metadata.deletion_timestamp = Some(Time(now()))
        }),
    ];
    let p = plan(&replica_set(2, |_| {}), &pods, now());
    assert_eq!(p.create, 2);
    assert_eq!(p.status.terminating_replicas, Some(1));
}

#[test]
fn status_counts_ready_and_available_after_min_ready_seconds() {
    let rs = replica_set(3, |rs| rs.spec.min_ready_seconds = Some(60));
    let pods = vec![
        pod("long-ready", Some(UID), ready(1)),
        pod("just-ready", Some(UID), ready(999_990)),
        pod("not-ready", Some(UID), |_| {}),
    ];
    let s = plan(&rs, &pods, now()).status;
    assert_eq!(s.replicas, 3);
    assert_eq!(s.fully_labeled_replicas, Some(3));
    assert_eq!(s.ready_replicas, Some(2));
    assert_eq!(s.available_replicas, Some(1));
    let empty = plan(&replica_set(0, |_| {}), &[], now()).status;
    assert_eq!((empty.replicas, empty.ready_replicas), (0, None));
}
