//! The StatefulSet controller: pods with stable names and DNS identities (`web-0.nginx`),
//! made and removed in order (OrderedReady) or all at once (Parallel), updated from the
//! highest ordinal down through ControllerRevisions. `volumeClaimTemplates` are kept in the
//! object but no PersistentVolumeClaims are made: the lab has no storage.
//!
//! - [`pods`]: ordinals and the pod identity; [`plan`]: one sync (pure).
//! - This file: the reconcile loop (kube-rs `Controller` over StatefulSets, owning Pods
//!   and ControllerRevisions).

pub mod plan;
pub mod pods;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::daemonset::apply_revision;
use crate::error::{Error, is_conflict, is_not_found};
use crate::status_patch;

struct Ctx {
    client: Client,
}

/// Runs the StatefulSet controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let ctx = Arc::new(Ctx {
        client: client.clone(),
    });
    Controller::new(sets, watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .owns(
            Api::<ControllerRevision>::all(client),
            watcher::Config::default(),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(error) = r {
                tracing::debug!(%error, "statefulset reconcile");
            }
        })
        .await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(statefulset = %sts.name_any(), namespace = sts.namespace().as_deref().unwrap_or("")))]
async fn reconcile(sts: Arc<StatefulSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if sts.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = sts.namespace().unwrap_or_default();
    let name = sts.name_any();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let pods = pods_api.list(&ListParams::default()).await?.items;
    let revisions = revisions_api.list(&ListParams::default()).await?.items;
    let step = plan::plan(&sts, &pods, &revisions, k8s_openapi::jiff::Timestamp::now());
    for change in &step.revisions {
        apply_revision(&revisions_api, change).await?;
    }
    for pod in &step.create {
        tracing::info!(pod = %pod.name_any(), "creating stateful pod");
        match pods_api.create(&PostParams::default(), pod).await {
            Ok(_) => {}
            // Still terminating under the same name: the next sync makes it again.
            Err(e) if is_conflict(&e) => {}
            Err(e) => return Err(Error::on("creating pod", pod.name_any())(e)),
        }
    }
    for pod in &step.delete {
        tracing::info!(%pod, "deleting stateful pod");
        match pods_api.delete(pod, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", pod.clone())(e)),
        }
    }
    if sts.status.as_ref() != Some(&step.status) {
        let patch = status_patch::merge(&step.status, status_patch::STATEFUL_SET_COUNTERS);
        Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::on(
                "updating the status of statefulset",
                name.clone(),
            ))?;
    }
    // A pod still terminating under a name to reuse brings no event for this set.
    let waiting = pods
        .iter()
        .any(|p| p.metadata.deletion_timestamp.is_some() && plan::belongs(&sts, p));
    Ok(if waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}

fn error_policy(_sts: Arc<StatefulSet>, error: &Error, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(%error, "statefulset sync failed; retrying");
    Action::requeue(Duration::from_secs(1))
}
