//! The deployment controller: a Deployment owns ReplicaSets, one per version of its pod
//! template (named and labelled by `pod-template-hash`), and rolls from the old ones to the
//! new one by scaling them (RollingUpdate within maxSurge/maxUnavailable, or Recreate);
//! the ReplicaSet controller ([`crate::replicaset`]) makes the pods.
//!
//! - [`crate::hash`]: `pod-template-hash`; [`replica_sets`]: revisions, annotations, the new
//!   ReplicaSet; [`status`]: counts and conditions; [`plan`]: one sync (pure).
//! - This file: the reconcile loop (kube-rs `Controller` over Deployments, owning
//!   ReplicaSets).

pub mod plan;
pub mod replica_sets;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use podnet_k8s_events::{Broadcaster, EventType, Recorder, Reference, Source};

use crate::error::{Error, is_conflict, is_not_found};
use crate::pods::controller_ref;
use crate::reconciler;
use crate::{selector, status_patch};
use plan::Change;

struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Runs the deployment controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let deployments: Api<Deployment> = Api::all(client.clone());
    let sets: Api<ReplicaSet> = Api::all(client.clone());
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new("deployment-controller", None));
    tokio::spawn(broadcaster.run());
    let ctx = Arc::new(Ctx { client, recorder });
    let controller = Controller::new(deployments, watcher::Config::default())
        .owns(sets, watcher::Config::default());
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(deployment = %d.name_any(), namespace = d.namespace().as_deref().unwrap_or("")))]
async fn reconcile(d: Arc<Deployment>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if d.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = d.namespace().unwrap_or_default();
    let name = d.name_any();
    let sets_api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let sets = sets_api.list(&ListParams::default()).await?.items;
    let pods = if plan_needs_pods(&d) {
        let sel = selector::to_query(&d.spec.selector);
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        pods_api
            .list(&ListParams::default().labels(&sel))
            .await?
            .items
    } else {
        Vec::new()
    };
    let step = plan::plan(&d, &sets, &pods, k8s_openapi::jiff::Timestamp::now());
    let owner = controller_ref(d.as_ref());
    for rs in &step.adopt {
        let patch = json!({"metadata": {"ownerReferences": [owner]}});
        sets_api
            .patch(rs, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::on("adopting replicaset", rs.clone()))?;
    }
    for change in &step.changes {
        apply(&sets_api, &d, change).await?;
        record(&ctx.recorder, &d, change);
    }
    let d_api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(revision) = &step.revision {
        let patch = json!({"metadata": {"annotations": {replica_sets::REVISION: revision}}});
        d_api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(Error::on("annotating deployment", name.clone()))?;
    }
    let counters = status_patch::DEPLOYMENT_COUNTERS;
    status_patch::write(&d_api, &name, d.status.as_ref(), &step.status, counters).await?;
    Ok(match step.requeue_after {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

/// The ScalingReplicaSet event upstream's controller writes for each scaling it does.
fn record(recorder: &Recorder, d: &Deployment, change: &Change) {
    let (name, from, to) = match change {
        Change::Create(rs) => (rs.name_any(), 0, rs.spec.replicas.unwrap_or(1)),
        Change::Update {
            name,
            from,
            replicas,
            ..
        } if from != replicas => (name.clone(), *from, *replicas),
        _ => return,
    };
    let direction = if to > from { "up" } else { "down" };
    recorder.event(
        &Reference::of(d),
        EventType::Normal,
        "ScalingReplicaSet",
        format!("Scaled {direction} replica set {name} from {from} to {to}"),
    );
}

fn plan_needs_pods(d: &Deployment) -> bool {
    d.spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

async fn apply(api: &Api<ReplicaSet>, d: &Deployment, change: &Change) -> Result<(), Error> {
    match change {
        Change::Create(rs) => {
            let name = rs.name_any();
            tracing::info!(replicaset = %name, replicas = ?rs.spec.replicas, "creating the new replica set");
            match api.create(&PostParams::default(), rs).await {
                Ok(_) => Ok(()),
                Err(e) if is_conflict(&e) => collided(api, d, &name).await,
                Err(e) => Err(Error::on("creating replicaset", name)(e)),
            }
        }
        Change::Update {
            name,
            from,
            replicas,
            annotations,
        } => {
            if from != replicas {
                tracing::info!(replicaset = %name, from, to = replicas, "scaling replica set");
            }
            let patch = json!({"metadata": {"annotations": annotations},
                "spec": {"replicas": replicas}});
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(|_| ())
                .map_err(Error::on("scaling replicaset", name.clone()))
        }
        Change::Delete(name) => match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(Error::on("deleting old replicaset", name.clone())(e)),
        },
    }
}

/// The new ReplicaSet's name is taken. When it is not this Deployment's (another template
/// hashed the same), `collisionCount` goes up so that the next sync picks another name,
/// as upstream does.
async fn collided(api: &Api<ReplicaSet>, d: &Deployment, name: &str) -> Result<(), Error> {
    let existing = api
        .get(name)
        .await
        .map_err(Error::on("reading replicaset", name))?;
    let ours = crate::pods::controller_uid(&existing) == d.uid().as_deref()
        && replica_sets::template(&existing)
            .is_some_and(|t| replica_sets::equal_ignore_hash(t, &d.spec.template));
    if ours {
        return Ok(());
    }
    let count = d
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0)
        + 1;
    tracing::warn!(replicaset = %name, collision_count = count, "pod-template-hash collision");
    let patch = json!({"status": {"collisionCount": count}});
    Api::<Deployment>::namespaced(
        api.clone().into_client(),
        &d.namespace().unwrap_or_default(),
    )
    .patch_status(
        &d.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
    .map_err(Error::on(
        "updating the collision count of deployment",
        d.name_any(),
    ))
}
