//! The CronJob controller (upstream cronjob-controller-v2): a Job per scheduled time, named
//! `<cronjob>-<minutes since the epoch>` and controlled by the CronJob; `status.active`,
//! `lastScheduleTime`, `lastSuccessfulTime`; the history limits; the concurrency policies
//! (Allow, Forbid, Replace); missed times and `startingDeadlineSeconds`; `suspend`;
//! `timeZone`; and upstream's events (SuccessfulCreate, SawCompletedJob, SuccessfulDelete,
//! JobAlreadyActive, MissSchedule, …).
//!
//! - [`times`]: which scheduled time is due and when to look again; [`plan`]: one sync
//!   (both pure, the clock an argument).
//! - This file: the reconcile loop (kube-rs `Controller` over CronJobs, owning Jobs, each
//!   CronJob requeued just after its next scheduled time).

pub mod plan;
pub mod times;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use podnet_k8s_events::{Broadcaster, EventType, Recorder, Reference, Source};

use crate::error::{Error, is_conflict, is_not_found};
use crate::pods::controller_uid;
use crate::reconciler;
use crate::status_patch;

struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Runs the CronJob controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let cron_jobs: Api<CronJob> = Api::all(client.clone());
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new("cronjob-controller", None));
    tokio::spawn(broadcaster.run());
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        recorder,
    });
    let controller = Controller::new(cron_jobs, watcher::Config::default())
        .owns(Api::<Job>::all(client), watcher::Config::default());
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(1)).await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(cronjob = %cached.name_any(), namespace = cached.namespace().as_deref().unwrap_or("")))]
async fn reconcile(cached: Arc<CronJob>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = cached.namespace().unwrap_or_default();
    let name = cached.name_any();
    let api: Api<CronJob> = Api::namespaced(ctx.client.clone(), &ns);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    // The cache may not have our last status write yet: a Job started by the last sync
    // would look unexpected and its time not yet started.
    let Some(cj) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let jobs = jobs_api.list(&ListParams::default()).await?.items;
    let step = plan::plan(&cj, &jobs, k8s_openapi::jiff::Timestamp::now());
    let record = |warning: bool, reason: &str, message: String| {
        let kind = if warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        ctx.recorder
            .event(&Reference::of(&cj), kind, reason, message);
    };
    for note in &step.events {
        record(note.warning, note.reason, note.message.clone());
    }
    for job in &step.delete {
        match jobs_api.delete(job, &DeleteParams::background()).await {
            Ok(_) => record(false, "SuccessfulDelete", format!("Deleted job {job}")),
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                record(true, "FailedDelete", format!("Deleted job: {e}"));
                return Err(Error::on("deleting job", job.clone())(e));
            }
        }
    }
    let mut status = step.status.clone();
    if let Some(job) = &step.create {
        let started = match jobs_api.create(&PostParams::default(), job).await {
            Ok(created) => {
                let message = format!("Created job {}", created.name_any());
                record(false, "SuccessfulCreate", message);
                Some(created)
            }
            // Made by an earlier sync whose status write was lost: take it into the active
            // list if it is ours (a Job of that name made by someone else is left alone).
            Err(e) if is_conflict(&e) => {
                let existing = jobs_api.get(&job.name_any()).await?;
                let ours = controller_uid(&existing) == cj.uid().as_deref();
                let listed = status
                    .active
                    .iter()
                    .flatten()
                    .any(|r| r.uid == existing.uid());
                (ours && !listed).then_some(existing)
            }
            Err(e) => {
                record(true, "FailedCreate", format!("Error creating job: {e}"));
                return Err(Error::on("creating a job of cronjob", name)(e));
            }
        };
        if let Some(created) = started {
            status
                .active
                .get_or_insert_default()
                .push(reference(&created));
        }
    }
    let lists = status_patch::CRON_JOB_LISTS;
    status_patch::write(&api, &name, cj.status.as_ref(), &status, lists).await?;
    Ok(match step.requeue_after {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

/// An entry of `status.active` (client-go's `reference.GetReference`).
fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some(Job::api_version(&()).into_owned()),
        kind: Some(Job::kind(&()).into_owned()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}
