//! The writes a workload controller makes to what it owns, the same for every kind:
//! ControllerRevision changes and pod deletions (an object already gone is no error).

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::error::{Error, is_conflict, is_not_found};
use crate::revisions::Change;

/// Applies a sync's revision changes in order.
pub async fn apply_revisions(
    api: &Api<ControllerRevision>,
    changes: &[Change],
) -> Result<(), Error> {
    for change in changes {
        match change {
            Change::Create(revision) => match api.create(&PostParams::default(), revision).await {
                Ok(_) => {}
                // Already written by an earlier sync whose cache had not caught up.
                Err(e) if is_conflict(&e) => {}
                Err(e) => {
                    return Err(Error::on(
                        "creating controllerrevision",
                        revision.name_any(),
                    )(e));
                }
            },
            Change::Renumber { name, revision } => {
                let patch = json!({"revision": revision});
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(Error::on("renumbering controllerrevision", name.clone()))?;
            }
            Change::Delete(name) => match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::on("deleting controllerrevision", name.clone())(e)),
            },
        }
    }
    Ok(())
}

/// Deletes the pods named (their graceful deletion is the kubelet's).
pub async fn delete_pods(api: &Api<Pod>, names: &[String]) -> Result<(), Error> {
    for pod in names {
        match api.delete(pod, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", pod.clone())(e)),
        }
    }
    Ok(())
}
