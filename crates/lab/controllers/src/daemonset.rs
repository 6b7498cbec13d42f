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
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::dependents::{apply_revisions, delete_pods};
use crate::error::Error;
use crate::pods::controller_ref;
use crate::{reconciler, status_patch};

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
    let controller = Controller::new(sets, watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .owns(
            Api::<ControllerRevision>::all(client.clone()),
            watcher::Config::default(),
        )
        .reconcile_all_on(nodes);
    let ctx = Arc::new(Ctx { client });
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
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
    apply_revisions(&revisions_api, &step.revisions).await?;
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
    delete_pods(&pods_api, &step.delete).await?;
    let api = Api::<DaemonSet>::namespaced(ctx.client.clone(), &ns);
    let counters = status_patch::DAEMON_SET_COUNTERS;
    status_patch::write(&api, &name, ds.status.as_ref(), &step.status, counters).await?;
    // minReadySeconds: availability changes with time alone.
    let waiting = ds.spec.min_ready_seconds.unwrap_or(0) > 0
        && step.status.number_available.unwrap_or(0) < step.status.number_ready;
    Ok(if waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}
