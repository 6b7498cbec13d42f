//! The deployment controller. The lab has no ReplicaSet resource: a Deployment owns its
//! pods directly (controller ownerReference → the Deployment), and the `pod-template-hash`
//! label plays the part of upstream's ReplicaSets, one hash per template version.
//!
//! - [`hash`]: `pod-template-hash`; [`pods`]: counting, ranking, a new pod;
//!   [`plan`]: the rollout step and status (pure).
//! - This file: the reconcile loop (kube-rs `Controller` over Deployments, owning Pods).

pub mod hash;
pub mod plan;
pub mod pods;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_not_found};
use crate::selector;

struct Ctx {
    client: Client,
}

/// Runs the deployment controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let deployments: Api<Deployment> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let ctx = Arc::new(Ctx { client });
    Controller::new(deployments, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(error) = r {
                tracing::debug!(%error, "deployment reconcile");
            }
        })
        .await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(deployment = %d.name_any(), namespace = d.namespace().as_deref().unwrap_or("")))]
async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = d.namespace().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = d.uid().unwrap_or_default();
    let sel = selector::to_query(&d.spec.selector);
    let owned: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&sel))
        .await?
        .items
        .into_iter()
        .filter(|p| pods::is_owned_by(p, &uid))
        .collect();
    let step = plan::plan(&d, &owned, k8s_openapi::jiff::Timestamp::now());
    if step.create > 0 || !step.delete.is_empty() {
        tracing::info!(hash = %step.hash, create = step.create, delete = step.delete.len(), "scaling");
    }
    for _ in 0..step.create {
        let pod = pods::new_pod(&d, &step.hash);
        pods_api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(Error::on("creating a pod of deployment", d.name_any()))?;
    }
    for name in &step.delete {
        match pods_api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", name.clone())(e)),
        }
    }
    if d.status.as_ref() != Some(&step.status) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = json!({"status": step.status});
        api.patch_status(
            &d.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::on("updating the status of deployment", d.name_any()))?;
    }
    Ok(Action::await_change())
}

fn error_policy(_d: Arc<Deployment>, error: &Error, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(%error, "deployment sync failed; retrying");
    Action::requeue(Duration::from_secs(1))
}
