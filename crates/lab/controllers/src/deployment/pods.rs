//! Pods as the deployment controller sees them: which count, which are ready, which go
//! first on a scale-down, and a new pod from the template.

use std::cmp::Reverse;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::ResourceExt;

use super::hash;

/// Counted toward replicas: not terminating and not finished (upstream `FilterActivePods`).
pub fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !matches!(phase(p), Some("Succeeded" | "Failed"))
}

/// The pod's `Ready` condition is `True`. The lab counts a ready pod as available
/// (`minReadySeconds` is not honoured).
pub fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub fn template_hash(p: &Pod) -> Option<&str> {
    p.labels().get(hash::LABEL).map(String::as_str)
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Orders pods so that the cheapest to lose come first, as the ReplicaSet controller's
/// `ActivePods` ranking: unscheduled before scheduled, Pending before Unknown before
/// Running, not ready before ready, newer before older.
pub fn deletion_order(pods: &mut [&Pod]) {
    pods.sort_by_key(|p| {
        let scheduled = p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let phase_rank = match phase(p) {
            Some("Pending") | None => 0,
            Some("Running") => 2,
            _ => 1,
        };
        (
            scheduled,
            phase_rank,
            is_ready(p),
            Reverse(p.metadata.creation_timestamp.clone().map(|t| t.0)),
            p.name_any(),
        )
    });
}

/// A pod of `d`'s current template. The lab has no ReplicaSet resource, so the Deployment
/// owns its pods directly: the controller ownerReference names the Deployment, and the
/// `pod-template-hash` label tells the template versions apart as upstream's ReplicaSets do.
pub fn new_pod(d: &Deployment, template_hash: &str) -> Pod {
    let template = d.spec.template.clone();
    let tmeta = template.metadata.unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.insert(hash::LABEL.into(), template_hash.into());
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-{template_hash}-", d.name_any())),
            namespace: d.namespace(),
            labels: Some(labels),
            annotations: tmeta.annotations,
            owner_references: Some(vec![owner_reference(d)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

pub fn owner_reference(d: &Deployment) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        name: d.name_any(),
        uid: d.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The pod's controller is the Deployment with `uid`.
pub fn is_owned_by(p: &Pod, uid: &str) -> bool {
    p.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}
