//! A DaemonSet's or StatefulSet's template history as ControllerRevisions (upstream
//! `constructHistory`/`getStatefulSetRevisions`): the revision of the current template
//! (created, or an old one brought back to the top), and the old ones beyond
//! `revisionHistoryLimit`.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::ResourceExt;
use serde_json::{Value, json};

use crate::hash::hash_bytes;
use crate::pods::controller_uid;

/// The label naming the ControllerRevision a pod was made from.
pub const REVISION_HASH: &str = "controller-revision-hash";

/// What the history is kept for: a DaemonSet or StatefulSet.
pub struct Owner<'a> {
    pub meta: &'a ObjectMeta,
    pub owner_ref: OwnerReference,
    pub template: &'a PodTemplateSpec,
    pub collision_count: Option<i32>,
    pub revision_history_limit: Option<i32>,
}

/// The pod template a revision holds (its data, `$patch` aside).
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.0.get("spec")?.get("template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// What the history needs this sync.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Create(Box<ControllerRevision>),
    /// An old revision whose template is current again becomes the newest.
    Renumber {
        name: String,
        revision: i64,
    },
    Delete(String),
}

/// The current revision's hash (the `controller-revision-hash` of up-to-date pods) and the
/// changes to the history. `hashes_in_use`: the hashes of the DaemonSet's live pods.
pub fn history(
    owner: &Owner<'_>,
    revisions: &[ControllerRevision],
    hashes_in_use: &BTreeSet<String>,
) -> (String, Vec<Change>) {
    let uid = owner.meta.uid.clone().unwrap_or_default();
    let mut own: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| controller_uid(*r) == Some(uid.as_str()))
        .collect();
    own.sort_by_key(|r| r.revision.unwrap_or(0));
    let data = patch(owner.template);
    let max = own.last().and_then(|r| r.revision).unwrap_or(0);
    let mut changes = Vec::new();
    let current = own.iter().find(|r| r.data.0 == data);
    let hash = match current {
        Some(r) => {
            if r.revision.unwrap_or(0) < max {
                changes.push(Change::Renumber {
                    name: r.name_any(),
                    revision: max + 1,
                });
            }
            r.labels()
                .get(REVISION_HASH)
                .cloned()
                .unwrap_or_else(|| hash_of(owner, &data))
        }
        None => {
            let hash = hash_of(owner, &data);
            changes.push(Change::Create(Box::new(revision(
                owner,
                &hash,
                data.clone(),
                max + 1,
            ))));
            hash
        }
    };
    let limit = owner.revision_history_limit.unwrap_or(10).max(0) as usize;
    let old: Vec<&&ControllerRevision> = own
        .iter()
        .filter(|r| r.data.0 != data)
        .filter(|r| {
            r.labels()
                .get(REVISION_HASH)
                .is_none_or(|h| !hashes_in_use.contains(h))
        })
        .collect();
    let excess = old.len().saturating_sub(limit);
    changes.extend(
        old.iter()
            .take(excess)
            .map(|r| Change::Delete(r.name_any())),
    );
    (hash, changes)
}

/// Upstream `getPatch`: the template, marked to replace rather than merge.
fn patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).expect("templates serialize");
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), "replace".into());
    }
    json!({"spec": {"template": template}})
}

fn hash_of(owner: &Owner<'_>, data: &Value) -> String {
    hash_bytes(
        &serde_json::to_vec(data).expect("values serialize"),
        owner.collision_count,
    )
}

fn revision(owner: &Owner<'_>, hash: &str, data: Value, number: i64) -> ControllerRevision {
    let mut labels = owner
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_HASH.into(), hash.into());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!(
                "{}-{hash}",
                owner.meta.name.as_deref().unwrap_or("")
            )),
            namespace: owner.meta.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner.owner_ref.clone()]),
            ..Default::default()
        },
        data: RawExtension(data),
        revision: Some(number),
    }
}
