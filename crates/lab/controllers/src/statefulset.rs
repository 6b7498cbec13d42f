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

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::dependents::{apply_revisions, delete_pods};
use crate::error::{Error, is_conflict};
use crate::{reconciler, status_patch};

struct Ctx {
    client: Client,
}

/// Runs the StatefulSet controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let controller = Controller::new(sets, watcher::Config::default())
        .owns(Api::<Pod>::all(client.clone()), watcher::Config::default())
        .owns(
            Api::<ControllerRevision>::all(client.clone()),
            watcher::Config::default(),
        );
    let ctx = Arc::new(Ctx { client });
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
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
    apply_revisions(&revisions_api, &step.revisions).await?;
    for pod in &step.create {
        tracing::info!(pod = %pod.name_any(), "creating stateful pod");
        match pods_api.create(&PostParams::default(), pod).await {
            Ok(_) => {}
            // Still terminating under the same name: the next sync makes it again.
            Err(e) if is_conflict(&e) => {}
            Err(e) => return Err(Error::on("creating pod", pod.name_any())(e)),
        }
    }
    if !step.delete.is_empty() {
        tracing::info!(delete = ?step.delete, "deleting stateful pods");
    }
    delete_pods(&pods_api, &step.delete).await?;
    let api = Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns);
    let counters = status_patch::STATEFUL_SET_COUNTERS;
    status_patch::write(&api, &name, sts.status.as_ref(), &step.status, counters).await?;
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
