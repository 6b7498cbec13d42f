//! Fixtures the controllers' plan tests share: a workload's selector and template, its
//! metadata, nodes, a pod as a kubelet reports it, and the API server's side of
//! ControllerRevision changes.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::{
    Container, Node, NodeSpec, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::ResourceExt;

use crate::revisions::Change;

/// A selector on the label `key=value` and a template with that label and one container
/// `container` running `image`.
pub fn labelled_template(
    (key, value): (&str, &str),
    container: &str,
    image: &str,
) -> (LabelSelector, PodTemplateSpec) {
    let labels = [(key.to_string(), value.to_string())].into();
    let selector = LabelSelector {
        match_labels: Some(labels),
        ..Default::default()
    };
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: selector.match_labels.clone(),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: container.into(),
                image: Some(image.into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    (selector, template)
}

/// The metadata of a workload object the API server has stored.
pub fn stored(name: &str, namespace: &str, uid: &str, generation: i64) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        uid: Some(uid.into()),
        generation: Some(generation),
        ..Default::default()
    }
}

/// A node with its `kubernetes.io/hostname` label, then changed by `f`.
pub fn node(name: &str, f: impl FnOnce(&mut Node)) -> Node {
    let mut n = Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: None,
    };
    f(&mut n);
    n
}

/// A running pod's status as its kubelet reports it, Ready or not.
pub fn running(ready: bool) -> PodStatus {
    PodStatus {
        phase: Some("Running".into()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

/// What the API server makes of a sync's ControllerRevision changes.
pub fn store_revisions(revisions: &mut Vec<ControllerRevision>, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Create(r) => revisions.push((**r).clone()),
            Change::Renumber { name, revision } => {
                let r = revisions
                    .iter_mut()
                    .find(|r| r.name_any() == *name)
                    .expect("a revision renumbered exists");
                r.revision = Some(*revision);
            }
            Change::Delete(name) => revisions.retain(|r| r.name_any() != *name),
        }
    }
}
