//! The DaemonSet controller: one pod per node that should run it (nodeSelector, required
//! node affinity, taints against the template's and the daemon tolerations), pinned to its
//! node by a `matchFields` affinity for the scheduler to bind, as upstream does; rolling
//! updates within maxUnavailable (or OnDelete) through ControllerRevisions.
//!
//! - [`pods`]: placement and the daemon pod; [`crate::revisions`]: the template history;
//!   [`plan`]: one sync (pure).
//! - This file: the reconcile loop (kube-rs `Controller` over DaemonSets, owning Pods and
//!   ControllerRevisions, every DaemonSet again when a node changes).

pub mod plan;
pub mod pods;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_conflict, is_not_found};
use crate::pods::controller_ref;
use crate::{revisions, status_patch};

struct Ctx {
    client: Client,
}

/// Runs the DaemonSet controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let sets: Api<DaemonSet> = Api::all(client.clone());
    let nodes = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .map(|_| ());
    let ctx = Arc::new(Ctx {
        client: client.clone(),
    });
    Controller::new(sets, watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .owns(
            Api::<ControllerRevision>::all(client),
            watcher::Config::default(),
        )
        .reconcile_all_on(nodes)
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(error) = r {
                tracing::debug!(%error, "daemonset reconcile");
            }
        })
        .await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(daemonset = %ds.name_any(), namespace = ds.namespace().as_deref().unwrap_or("")))]
async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if ds.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = ds.namespace().unwrap_or_default();
    let name = ds.name_any();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let revisions_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let nodes = Api::<Node>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let pods = pods_api.list(&ListParams::default()).await?.items;
    let revisions = revisions_api.list(&ListParams::default()).await?.items;
    let step = plan::plan(
        &ds,
        &nodes,
        &pods,
        &revisions,
        k8s_openapi::jiff::Timestamp::now(),
    );
    for change in &step.revisions {
        apply_revision(&revisions_api, change).await?;
    }
    let owner = controller_ref(ds.as_ref());
    for pod in &step.adopt {
        let patch = json!({"metadata": {"ownerReferences": [owner]}});
        pods_api
            .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::on("adopting pod", pod.clone()))?;
    }
    if !step.create.is_empty() || !step.delete.is_empty() {
        tracing::info!(create = ?step.create, delete = ?step.delete, "syncing daemon pods");
    }
    for node in &step.create {
        let pod = pods::daemon_pod(&ds, node, &step.hash);
        pods_api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(Error::on("creating a pod of daemonset", name.clone()))?;
    }
    for pod in &step.delete {
        match pods_api.delete(pod, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", pod.clone())(e)),
        }
    }
    if ds.status.as_ref() != Some(&step.status) {
        let patch = status_patch::merge(&step.status, status_patch::DAEMON_SET_COUNTERS);
        Api::<DaemonSet>::namespaced(ctx.client.clone(), &ns)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::on("updating the status of daemonset", name.clone()))?;
    }
    // minReadySeconds: availability changes with time alone.
    let waiting = ds.spec.min_ready_seconds.unwrap_or(0) > 0
        && step.status.number_available.unwrap_or(0) < step.status.number_ready;
    Ok(if waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}

pub(crate) async fn apply_revision(
    api: &Api<ControllerRevision>,
    change: &revisions::Change,
) -> Result<(), Error> {
    match change {
        revisions::Change::Create(revision) => {
            match api.create(&PostParams::default(), revision).await {
                Ok(_) => Ok(()),
                // Already written by an earlier sync whose cache had not caught up.
                Err(e) if is_conflict(&e) => Ok(()),
                Err(e) => Err(Error::on(
                    "creating controllerrevision",
                    revision.name_any(),
                )(e)),
            }
        }
        revisions::Change::Renumber { name, revision } => {
            let patch = json!({"revision": revision});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(Error::on("renumbering controllerrevision", name.clone()))
        }
        revisions::Change::Delete(name) => match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(Error::on("deleting controllerrevision", name.clone())(e)),
        },
    }
}

fn error_policy(_ds: Arc<DaemonSet>, error: &Error, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(%error, "daemonset sync failed; retrying");
    Action::requeue(Duration::from_secs(1))
}
