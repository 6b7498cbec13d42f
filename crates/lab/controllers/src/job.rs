//! The Job controller: pods run to completion, `parallelism` at a time, until
//! `completions` succeeded; the Job fails past `backoffLimit` failed pods or
//! `activeDeadlineSeconds`; `suspend` removes its pods; `ttlSecondsAfterFinished` removes
//! the finished Job. Not here: Indexed completion, pod failure policies, back-off delays
//! between retries, and container restarts (OnFailure) counted as failures.
//!
//! - [`plan`]: one sync (pure).
//! - This file: the reconcile loop (kube-rs `Controller` over Jobs, owning Pods).

pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_not_found};
use crate::pods::{controller_ref, from_template};
use crate::reconciler;
use crate::{selector, status_patch};

struct Ctx {
    client: Client,
}

/// Runs the Job controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let jobs: Api<Job> = Api::all(client.clone());
    let ctx = Arc::new(Ctx {
        client: client.clone(),
    });
    let controller = Controller::new(jobs, watcher::Config::default())
        .owns(Api::<Pod>::all(client), watcher::Config::default());
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(job = %job.name_any(), namespace = job.namespace().as_deref().unwrap_or("")))]
async fn reconcile(job: Arc<Job>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if job.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let Some(spec) = job.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let sel = selector::to_query(&spec.selector.clone().unwrap_or_default());
    let pods = pods_api
        .list(&ListParams::default().labels(&sel))
        .await?
        .items;
    let step = plan::plan(&job, &pods, k8s_openapi::jiff::Timestamp::now());
    if step.expired {
        tracing::info!("finished job past its ttlSecondsAfterFinished; deleting");
        return match jobs_api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => Ok(Action::await_change()),
            Err(e) if is_not_found(&e) => Ok(Action::await_change()),
            Err(e) => Err(Error::on("deleting job", name)(e)),
        };
    }
    if step.create > 0 || !step.delete.is_empty() {
        tracing::info!(create = step.create, delete = ?step.delete, "syncing job pods");
    }
    for _ in 0..step.create {
        let pod = from_template(
            &spec.template,
            Some(ns.clone()),
            format!("{name}-"),
            controller_ref(job.as_ref()),
        );
        pods_api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(Error::on("creating a pod of job", name.clone()))?;
    }
    for pod in &step.delete {
        match pods_api.delete(pod, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting pod", pod.clone())(e)),
        }
    }
    let counters = status_patch::JOB_COUNTERS;
    status_patch::write(
        &jobs_api,
        &name,
        job.status.as_ref(),
        &step.status,
        counters,
    )
    .await?;
    Ok(match step.requeue_after {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}
