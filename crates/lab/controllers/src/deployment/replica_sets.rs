//! A Deployment's ReplicaSets as upstream's deployment utilities see them: the one whose
//! template is the Deployment's (ignoring `pod-template-hash`), revisions, the annotations
//! copied from the Deployment, and a new ReplicaSet for the current template.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;

use crate::hash::LABEL;
use crate::pods::controller_ref;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Deployment annotations that are not copied to its ReplicaSets (upstream
/// `annotationsToSkip`): kubectl's own, and the controller's bookkeeping.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

pub fn template(rs: &ReplicaSet) -> Option<&PodTemplateSpec> {
    rs.spec.template.as_ref()
}

/// Same pod template, `pod-template-hash` aside (upstream `EqualIgnoreHash`).
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let strip = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(LABEL);
        }
        t
    };
    strip(a) == strip(b)
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// The annotations the new ReplicaSet should carry at `revision` (upstream
/// `SetNewReplicaSetAnnotations`): the Deployment's own, the revision (a revision it gives
/// up is appended to the revision history).
pub fn new_annotations(
    d: &Deployment,
    current: &BTreeMap<String, String>,
    revision: i64,
) -> BTreeMap<String, String> {
    let mut out = current.clone();
    for (k, v) in d.annotations() {
        if !NOT_COPIED.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    let old = current.get(REVISION).cloned();
    let old_number: i64 = old.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0);
    if old_number < revision {
        out.insert(REVISION.into(), revision.to_string());
        if let Some(old) = old.filter(|o| !o.is_empty()) {
            let history = match current.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old,
            };
            out.insert(REVISION_HISTORY.into(), history);
        }
    }
    out
}

/// `desired-replicas` and `max-replicas`, set on every ReplicaSet the controller scales.
pub fn replica_annotations(d: &Deployment, max_replicas: i32) -> [(String, String); 2] {
    [
        (
            DESIRED_REPLICAS.into(),
            d.spec.replicas.unwrap_or(1).to_string(),
        ),
        (MAX_REPLICAS.into(), max_replicas.to_string()),
    ]
}

/// The ReplicaSet of `d`'s current template: named `DEPLOYMENT-HASH`, its selector and
/// labels narrowed by the hash so that template versions never share pods.
pub fn new_replica_set(
    d: &Deployment,
    hash: &str,
    replicas: i32,
    annotations: BTreeMap<String, String>,
) -> ReplicaSet {
    let mut template = d.spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(LABEL.into(), hash.into());
    let labels = meta.labels.clone();
    let mut selector = d.spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(LABEL.into(), hash.into());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(format!("{}-{hash}", d.name_any())),
            namespace: d.namespace(),
            labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(d)]),
            ..Default::default()
        },
        spec: ReplicaSetSpec {
            replicas: Some(replicas),
            min_ready_seconds: d.spec.min_ready_seconds,
            selector,
            template: Some(template),
        },
        status: None,
    }
}
