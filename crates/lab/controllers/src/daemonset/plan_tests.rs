use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::*;
use crate::daemonset::pods::{self, daemon_pod};
use crate::fixture::{labelled_template, node, running, store_revisions, stored};

fn daemon_set(image: &str, f: impl FnOnce(&mut DaemonSetSpec)) -> DaemonSet {
    let (selector, template) = labelled_template(("name", "fluentd"), "fluentd", image);
    let mut spec = DaemonSetSpec {
        selector,
        template,
        ..Default::default()
    };
    f(&mut spec);
    DaemonSet {
        metadata: stored("fluentd", "kube-system", "ds-uid", 1),
        spec,
        status: None,
    }
}

fn taint(key: &str, effect: &str) -> impl FnOnce(&mut Node) {
    let taint = Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    };
    move |n| n.spec.as_mut().unwrap().taints = Some(vec![taint])
}

fn cluster() -> Vec<Node> {
    vec![
        node(
            "control-plane",
            taint("node-role.kubernetes.io/control-plane", "NoSchedule"),
        ),
        node("worker", |_| {}),
        node("worker2", |_| {}),
    ]
}

fn now() -> Timestamp {
    Timestamp::from_second(1_000_000).unwrap()
}

/// Runs syncs as the API server, the scheduler and a kubelet would answer them: revisions
/// stored, pods created bound to their node (ready or not), deleted pods gone.
struct World {
    pods: Vec<Pod>,
    revisions: Vec<ControllerRevision>,
    made: usize,
}

// === impl World ===

impl World {
    fn new() -> Self {
        World {
            pods: vec![],
            revisions: vec![],
            made: 0,
        }
    }

    fn sync(&mut self, ds: &DaemonSet, nodes: &[Node], ready: bool) -> Plan {
        let p = plan(ds, nodes, &self.pods, &self.revisions, now());
        store_revisions(&mut self.revisions, &p.revisions);
        self.pods.retain(|pod| !p.delete.contains(&pod.name_any()));
        for n in &p.create {
            self.made += 1;
            let mut pod = daemon_pod(ds, n, &p.hash);
            pod.metadata.name = Some(format!("fluentd-{}", self.made));
            pod.metadata.owner_references.as_mut().unwrap()[0].uid = "ds-uid".into();
            pod.metadata.creation_timestamp =
                Some(Time(Timestamp::from_second(self.made as i64).unwrap()));
            pod.spec.as_mut().unwrap().node_name = Some(n.clone());
            pod.status = Some(running(ready));
            self.pods.push(pod);
        }
        p
    }

    /// Syncs until a sync changes nothing; checks that no more than `max_unavailable`
    /// nodes lack an available pod at any step. Returns the last plan.
    fn converge(&mut self, ds: &DaemonSet, nodes: &[Node], max_unavailable: usize) -> Plan {
        for _ in 0..50 {
            let p = self.sync(ds, nodes, true);
            let missing = p.status.desired_number_scheduled as usize
                - self
                    .pods
                    .len()
                    .min(p.status.desired_number_scheduled as usize);
            assert!(
                missing <= max_unavailable.max(p.create.len()),
                "{missing} nodes without a pod"
            );
            if p.create.is_empty() && p.delete.is_empty() && p.revisions.is_empty() {
                return p;
            }
        }
        panic!("did not converge");
    }

    fn nodes_of_pods(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .pods
            .iter()
            .map(|p| node_of(p).unwrap().to_string())
            .collect();
        out.sort();
        out
    }
}

#[test]
fn one_pod_per_schedulable_node_and_the_control_plane_only_with_a_toleration() {
    let mut w = World::new();
    let p = w.converge(&daemon_set("fluentd:1", |_| {}), &cluster(), 1);
    assert_eq!(w.nodes_of_pods(), ["worker", "worker2"]);
    assert_eq!(
        (
            p.status.desired_number_scheduled,
            p.status.current_number_scheduled,
            p.status.number_ready
        ),
        (2, 2, 2)
    );
    assert_eq!(
        (p.status.updated_number_scheduled, p.status.number_available),
        (Some(2), Some(2))
    );

    let tolerant = daemon_set("fluentd:1", |s| {
        s.template.spec.as_mut().unwrap().tolerations = Some(vec![Toleration {
            key: Some("node-role.kubernetes.io/control-plane".into()),
            operator: Some("Exists".into()),
            effect: Some("NoSchedule".into()),
            ..Default::default()
        }])
    });
    let mut w = World::new();
    w.converge(&tolerant, &cluster(), 1);
    assert_eq!(w.nodes_of_pods(), ["control-plane", "worker", "worker2"]);
}

#[test]
fn node_selector_and_required_affinity_choose_the_nodes() {
    let mut nodes = cluster();
    nodes[2]
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("disk".into(), "ssd".into());
    let mut w = World::new();
    w.converge(
        &daemon_set("x", |s| {
            s.template.spec.as_mut().unwrap().node_selector =
                Some([("disk".to_string(), "ssd".to_string())].into())
        }),
        &nodes,
        1,
    );
    assert_eq!(w.nodes_of_pods(), ["worker2"]);
}

#[test]
fn the_pod_is_pinned_to_its_node_and_tolerates_node_conditions() {
    let ds = daemon_set("x", |s| {
        s.template.spec.as_mut().unwrap().host_network = Some(true)
    });
    let pod = daemon_pod(&ds, "worker", "abc");
    let spec = pod.spec.unwrap();
    assert_eq!(crate::node_affinity::pinned_node(&spec), Some("worker"));
    let keys: Vec<String> = spec
        .tolerations
        .unwrap()
        .into_iter()
        .filter_map(|t| t.key)
        .collect();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
        "node.kubernetes.io/network-unavailable",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key}");
    }
    assert_eq!(pod.metadata.labels.unwrap()[pods::REVISION_HASH], "abc");
    assert_eq!(pod.metadata.generate_name.as_deref(), Some("fluentd-"));
}

#[test]
fn a_no_execute_taint_evicts_and_a_no_schedule_taint_only_keeps_new_pods_off() {
    let mut w = World::new();
    let ds = daemon_set("x", |_| {});
    w.converge(&ds, &cluster(), 1);
    let mut nodes = cluster();
    taint("dedicated", "NoSchedule")(&mut nodes[1]);
    let p = w.sync(&ds, &nodes, true);
    assert!(p.delete.is_empty(), "NoSchedule leaves the running pod");
    assert_eq!(p.status.desired_number_scheduled, 1);
    assert_eq!(p.status.number_misscheduled, 1);
    taint("dedicated", "NoExecute")(&mut nodes[1]);
    let p = w.sync(&ds, &nodes, true);
    assert_eq!(p.delete.len(), 1);
    assert_eq!(w.nodes_of_pods(), ["worker2"]);
}

#[test]
fn rolling_update_replaces_pods_node_by_node_within_max_unavailable() {
    let nodes: Vec<Node> = (0..4).map(|i| node(&format!("w{i}"), |_| {})).collect();
    let mut w = World::new();
    let v1 = daemon_set("fluentd:1", |_| {});
    let first = w.converge(&v1, &nodes, 1);
    let mut v2 = daemon_set("fluentd:2", |s| {
        s.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("RollingUpdate".into()),
            rolling_update: Some(RollingUpdateDaemonSet {
                max_unavailable: Some(IntOrString::Int(2)),
                max_surge: None,
            }),
        })
    });
    v2.metadata.generation = Some(2);
    let p = w.sync(&v2, &nodes, true);
    assert_eq!(p.delete.len(), 2, "two nodes at a time");
    let done = w.converge(&v2, &nodes, 2);
    assert_ne!(done.hash, first.hash);
    assert!(
        w.pods
            .iter()
            .all(|pod| pod.labels()[pods::REVISION_HASH] == done.hash)
    );
    assert_eq!(done.status.updated_number_scheduled, Some(4));
    let numbers: Vec<Option<i64>> = w.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, [Some(1), Some(2)]);
    // Back to the first template: its revision returns as number 3, no third revision.
    let back = w.converge(&v1, &nodes, 2);
    assert_eq!(back.hash, first.hash);
    let numbers: Vec<Option<i64>> = w.revisions.iter().map(|r| r.revision).collect();
    assert_eq!(numbers, [Some(3), Some(2)]);
}

#[test]
fn on_delete_leaves_old_pods_until_they_are_deleted() {
    let nodes = cluster();
    let mut w = World::new();
    w.converge(&daemon_set("fluentd:1", |_| {}), &nodes, 1);
    let v2 = daemon_set("fluentd:2", |s| {
        s.update_strategy = Some(DaemonSetUpdateStrategy {
            type_: Some("OnDelete".into()),
            rolling_update: None,
        })
    });
    let p = w.converge(&v2, &nodes, 1);
    assert_eq!(p.status.updated_number_scheduled, None);
    w.pods.remove(0);
    let p = w.converge(&v2, &nodes, 1);
    assert_eq!(p.status.updated_number_scheduled, Some(1));
}

#[test]
fn failed_and_surplus_pods_are_replaced_and_orphans_adopted() {
    let nodes = vec![node("worker", |_| {})];
    let ds = daemon_set("x", |_| {});
    let mut w = World::new();
    w.converge(&ds, &nodes, 1);
    let mut failed = w.pods[0].clone();
    failed.status.as_mut().unwrap().phase = Some("Failed".into());
    let mut orphan = w.pods[0].clone();
    orphan.metadata.name = Some("orphan".into());
    orphan.metadata.owner_references = None;
    orphan.metadata.creation_timestamp = Some(Time(Timestamp::from_second(99).unwrap()));
    let p = plan(&ds, &nodes, &[failed, orphan], &w.revisions, now());
    assert_eq!(p.adopt, ["orphan"]);
    assert_eq!(p.delete, ["fluentd-1"]);
    assert!(p.create.is_empty(), "the adopted orphan runs there");
}
