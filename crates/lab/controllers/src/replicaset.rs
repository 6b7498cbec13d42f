//! The ReplicaSet controller: keeps `spec.replicas` pods of the template, adopting orphans
//! its selector matches, and reports the counts in its status.
//!
//! - [`plan`]: one sync (pure, table-tested).
//! - This file: the reconcile loop (kube-rs `Controller` over ReplicaSets, owning Pods).

pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use podnet_k8s_events::{Broadcaster, EventType, Recorder, Reference, Source};

use crate::error::{Error, is_not_found};
use crate::pods::{controller_ref, from_template};
use crate::reconciler;
use crate::status_patch;

struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Runs the ReplicaSet controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let sets: Api<ReplicaSet> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new("replicaset-controller", None));
    tokio::spawn(broadcaster.run());
    let ctx = Arc::new(Ctx { client, recorder });
    let controller =
        Controller::new(sets, watcher::Config::default()).owns(pods, watcher::Config::default());
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(replicaset = %rs.name_any(), namespace = rs.namespace().as_deref().unwrap_or("")))]
async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = rs.namespace().unwrap_or_default();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    // Fresh from the API rather than a cache: a pod created by the last sync is counted.
    let pods = pods_api.list(&ListParams::default()).await?.items;
    let step = plan::plan(&rs, &pods, k8s_openapi::jiff::Timestamp::now());
    let owner = controller_ref(rs.as_ref());
    for name in &step.adopt {
        let patch = json!({"metadata": {"ownerReferences": [owner]}});
        claim(&pods_api, name, &patch).await?;
    }
    for name in &step.release {
        let patch = json!({"metadata": {"ownerReferences": null}});
        claim(&pods_api, name, &patch).await?;
    }
    if step.create > 0 || !step.delete.is_empty() {
        tracing::info!(create = step.create, delete = step.delete.len(), "scaling");
    }
    if let Some(template) = rs.spec.template.as_ref() {
        for _ in 0..step.create {
            let pod = from_template(
                template,
                Some(ns.clone()),
                format!("{}-", rs.name_any()),
                owner.clone(),
            );
            let created = pods_api
                .create(&PostParams::default(), &pod)
                .await
                .map_err(Error::on("creating a pod of replicaset", rs.name_any()))?;
            ctx.recorder.event(
                &Reference::of(rs.as_ref()),
                EventType::Normal,
                "SuccessfulCreate",
                format!("Created pod: {}", created.name_any()),
            );
        }
    }
    for name in &step.delete {
        match pods_api.delete(name, &DeleteParams::default()).await {
            Ok(_) => ctx.recorder.event(
                &Reference::of(rs.as_ref()),
                EventType::Normal,
                "SuccessfulDelete",
                format!("Deleted pod: {name}"),
            ),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", name.clone())(e)),
        }
    }
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let counters = status_patch::REPLICA_SET_COUNTERS;
    status_patch::write(
        &api,
        &rs.name_any(),
        rs.status.as_ref(),
        &step.status,
        counters,
    )
    .await?;
    // minReadySeconds: availability changes with time alone.
    let min_ready = rs.spec.min_ready_seconds.unwrap_or(0);
    let waiting = step.status.ready_replicas != step.status.available_replicas;
    Ok(if min_ready > 0 && waiting {
        Action::requeue(Duration::from_secs(1))
    } else {
        Action::await_change()
    })
}

/// Changes a pod's ownerReferences (a merge patch replaces the list).
async fn claim(pods: &Api<Pod>, name: &str, patch: &serde_json::Value) -> Result<(), Error> {
    match pods
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::on("claiming pod", name)(e)),
    }
}
