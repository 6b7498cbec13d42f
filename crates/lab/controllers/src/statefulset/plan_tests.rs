use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::fixture::{labelled_template, running, store_revisions, stored};
use crate::statefulset::pods::{POD_INDEX, POD_NAME};

fn stateful_set(replicas: i32, image: &str, f: impl FnOnce(&mut StatefulSetSpec)) -> StatefulSet {
    let (selector, template) = labelled_template(("app", "nginx"), "nginx", image);
    let mut spec = StatefulSetSpec {
        replicas: Some(replicas),
        service_name: Some("nginx".into()),
        selector,
        template,
        ..Default::default()
    };
    f(&mut spec);
    StatefulSet {
        metadata: stored("web", "default", "sts-uid", 1),
        spec,
        status: None,
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).unwrap()
}

/// The API server and a kubelet, as far as a StatefulSet sees them: revisions stored,
/// pods created Running (Ready when `ready`), deleted pods gone.
#[derive(Default)]
struct World {
    pods: Vec<Pod>,
    revisions: Vec<ControllerRevision>,
}

// === impl World ===

impl World {
    fn sync(&mut self, sts: &mut StatefulSet, ready: bool) -> Plan {
        let p = plan(sts, &self.pods, &self.revisions, now());
        store_revisions(&mut self.revisions, &p.revisions);
        self.pods.retain(|pod| !p.delete.contains(&pod.name_any()));
        for pod in &p.create {
            let mut pod = pod.clone();
            pod.status = Some(running(ready));
            self.pods.push(pod);
        }
        sts.status = Some(p.status.clone());
        p
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.pods.iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    /// Syncs until nothing changes; returns the pod names created, in order.
    fn converge(&mut self, sts: &mut StatefulSet) -> Vec<String> {
        let mut created = Vec::new();
        for _ in 0..50 {
            let p = self.sync(sts, true);
            created.extend(p.create.iter().map(|p| p.name_any()));
            if p.create.is_empty() && p.delete.is_empty() && p.revisions.is_empty() {
                return created;
            }
        }
        panic!("did not converge: {:?}", self.names());
    }
}

#[test]
fn ordered_ready_makes_one_pod_at_a_time_and_waits_for_it_to_be_ready() {
    let mut sts = stateful_set(3, "nginx:1", |_| {});
    let mut w = World::default();
    let p = w.sync(&mut sts, false);
    assert_eq!(
        p.create.iter().map(|p| p.name_any()).collect::<Vec<_>>(),
        ["web-0"]
    );
    let p = w.sync(&mut sts, false);
    assert!(p.create.is_empty(), "web-0 is not ready: web-1 waits");
    let mut w = World::default();
    assert_eq!(w.converge(&mut sts), ["web-0", "web-1", "web-2"]);
    let s = sts.status.clone().unwrap();
    assert_eq!(
        (
            s.replicas,
            s.ready_replicas,
            s.current_replicas,
            s.updated_replicas
        ),
        (3, Some(3), Some(3), Some(3))
    );
    assert_eq!(s.current_revision, s.update_revision);
}

#[test]
fn each_pod_has_its_stable_identity() {
    let mut sts = stateful_set(1, "nginx:1", |_| {});
    let mut w = World::default();
    w.converge(&mut sts);
    let pod = &w.pods[0];
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("web-0"), Some("nginx"))
    );
    let labels = pod.labels();
    assert_eq!(
        (labels[POD_NAME].as_str(), labels[POD_INDEX].as_str()),
        ("web-0", "0")
    );
    assert_eq!(
        labels[REVISION_HASH],
        sts.status.unwrap().update_revision.unwrap()
    );
    assert_eq!(pod.owner_references()[0].kind, "StatefulSet");
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let mut sts = stateful_set(3, "nginx:1", |_| {});
    let mut w = World::default();
    w.converge(&mut sts);
    sts.spec.replicas = Some(1);
    assert_eq!(w.sync(&mut sts, true).delete, ["web-2"]);
    assert_eq!(w.sync(&mut sts, true).delete, ["web-1"]);
    assert_eq!(w.names(), ["web-0"]);
}

#[test]
fn parallel_makes_and_removes_all_at_once() {
    let mut sts = stateful_set(3, "nginx:1", |s| {
        s.pod_management_policy = Some("Parallel".into())
    });
    let mut w = World::default();
    assert_eq!(w.sync(&mut sts, false).create.len(), 3);
    sts.spec.replicas = Some(0);
    assert_eq!(w.sync(&mut sts, false).delete, ["web-2", "web-1", "web-0"]);
}

#[test]
fn rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() {
    let mut sts = stateful_set(3, "nginx:1", |_| {});
    let mut w = World::default();
    w.converge(&mut sts);
    let first = sts.status.clone().unwrap().update_revision.unwrap();
    sts.spec.template.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
    sts.spec.update_strategy = Some(StatefulSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateStatefulSetStrategy {
            partition: Some(1),
            max_unavailable: None,
        }),
    });
    let p = w.sync(&mut sts, true);
    assert_eq!(p.delete, ["web-2"]);
    let recreated = w.converge(&mut sts);
    assert_eq!(
        recreated,
        ["web-2", "web-1"],
        "web-0 is below the partition"
    );
    let images: Vec<String> = {
        let mut pods = w.pods.clone();
        pods.sort_by_key(|p| p.name_any());
        pods.iter()
            .map(|p| {
                p.spec.as_ref().unwrap().containers[0]
                    .image
                    .clone()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(images, ["nginx:1", "nginx:2", "nginx:2"]);
    let s = sts.status.clone().unwrap();
    assert_eq!(
        s.current_revision.as_deref(),
        Some(first.as_str()),
        "not complete below the partition"
    );
    assert_eq!(s.updated_replicas, Some(2));
    // A pod below the partition that is deleted comes back at the current revision.
    w.pods.retain(|p| p.name_any() != "web-0");
    w.converge(&mut sts);
    let web0 = w.pods.iter().find(|p| p.name_any() == "web-0").unwrap();
    assert_eq!(
        web0.spec.as_ref().unwrap().containers[0].image.as_deref(),
        Some("nginx:1")
    );
}

#[test]
fn a_failed_pod_is_recreated_under_its_name() {
    let mut sts = stateful_set(2, "nginx:1", |_| {});
    let mut w = World::default();
    w.converge(&mut sts);
    w.pods[0].status.as_mut().unwrap().phase = Some("Failed".into());
    w.pods[0].metadata.creation_timestamp = Some(Time(now()));
    let p = w.sync(&mut sts, true);
    assert_eq!(p.delete, ["web-0"]);
    assert_eq!(w.converge(&mut sts), ["web-0"]);
}
