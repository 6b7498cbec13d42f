//! A StatefulSet's pods: `NAME-ORDINAL`, each with its stable identity (hostname, the
//! governing Service as subdomain, the pod-name and pod-index labels).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::ResourceExt;

use crate::pods::controller_ref;
use crate::revisions::REVISION_HASH;

pub const POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";

/// The ordinal of a pod named `SET-N`, if it is one of `set`'s.
pub fn ordinal(set: &str, pod: &Pod) -> Option<usize> {
    pod.metadata
        .name
        .as_deref()?
        .strip_prefix(set)?
        .strip_prefix('-')?
        .parse()
        .ok()
}

/// Pod `ordinal` of `sts` from `template` (the revision `hash` names).
pub fn stateful_pod(
    sts: &StatefulSet,
    template: &PodTemplateSpec,
    ordinal: usize,
    hash: &str,
) -> Pod {
    let name = format!("{}-{ordinal}", sts.name_any());
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(REVISION_HASH.into(), hash.into());
    labels.insert(POD_NAME.into(), name.clone());
    labels.insert(POD_INDEX.into(), ordinal.to_string());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    spec.subdomain = sts.spec.service_name.clone();
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name),
            namespace: sts.namespace(),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: Some(vec![controller_ref(sts)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}
