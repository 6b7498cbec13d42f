//! Pods as the workload controllers see them: which count, which are ready or available,
//! which go first on a scale-down, who controls them, and a new pod from a template.

use std::cmp::Reverse;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

/// Counted toward replicas: not terminating and not finished (upstream `FilterActivePods`).
pub fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !matches!(phase(p), Some("Succeeded" | "Failed"))
}

/// The pod's `Ready` condition is `True`.
pub fn is_ready(p: &Pod) -> bool {
    ready_since(p).is_some()
}

/// Ready for at least `min_ready_seconds` (upstream `IsPodAvailable`).
pub fn is_available(p: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(p) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(since) => since.is_some_and(|t| {
            t.checked_add(SignedDuration::from_secs(i64::from(min_ready_seconds)))
                .is_ok_and(|at| at <= now)
        }),
    }
}

/// `Some(last transition time)` when the `Ready` condition is `True`.
fn ready_since(p: &Pod) -> Option<Option<Timestamp>> {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready" && c.status == "True"))
        .map(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

pub fn phase(p: &Pod) -> Option<&str> {
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

/// The controller ownerReference an owner of `kind` puts on what it creates.
pub fn controller_ref<K: kube::Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The uid of the object's controller, if it has one.
pub fn controller_uid<K: ResourceExt>(o: &K) -> Option<&str> {
    o.owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

/// A pod of `template`, named by the API server from `generate_name`, controlled by `owner`.
pub fn from_template(
    template: &PodTemplateSpec,
    namespace: Option<String>,
    generate_name: String,
    owner: OwnerReference,
) -> Pod {
    let tmeta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace,
            labels: tmeta.labels,
            annotations: tmeta.annotations,
            finalizers: tmeta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}
