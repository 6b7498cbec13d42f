//! One sync of a CronJob (upstream cronjob-controller-v2 `cleanupFinishedJobs` then
//! `syncCronJob`), given its Jobs and the time: finished Jobs past the history limits,
//! the active list kept true, and the Job for a scheduled time that is due, within the
//! starting deadline and the concurrency policy. The clock is an argument, so schedules
//! are tested without waiting.

use std::cmp::Ordering;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::jiff::tz::TimeZone;
use kube::ResourceExt;
use podnet_k8s_cron::Schedule;

use super::times::{self, History};
use crate::pods::{controller_ref, controller_uid};

/// Where a Job records the time it was scheduled for, in the CronJob's zone.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// What one sync does. Deleting a Job is where upstream records `SuccessfulDelete`, creating
/// one `SuccessfulCreate`; the rest of what it records is in `events`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Finished Jobs past the history limits, then the active ones a `Replace` ends.
    pub delete: Vec<String>,
    /// The Job of the scheduled time now due.
    pub create: Option<Job>,
    /// The status to write: the active list without the Job to create (its uid is the API
    /// server's to give), `lastScheduleTime` already its scheduled time.
    pub status: CronJobStatus,
    pub events: Vec<Note>,
    pub requeue_after: Option<Duration>,
}

/// An event for the CronJob, with upstream's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// `jobs`: the Jobs of the CronJob's namespace.
pub fn plan(cj: &CronJob, jobs: &[Job], now: Timestamp) -> Plan {
    let uid = cj.uid().unwrap_or_default();
    let spec = &cj.spec;
    let mut status = cj.status.clone().unwrap_or_default();
    let mut active = status.active.take().unwrap_or_default();
    let mut events = Vec::new();
    let owned: Vec<&Job> = jobs
        .iter()
        .filter(|j| controller_uid(*j) == Some(uid.as_str()))
        .collect();

    let delete = past_history_limits(&owned, spec);
    active.retain(|r| !delete.contains(&r.name.clone().unwrap_or_default()));
    for job in &owned {
        let job_uid = job.uid();
        let in_active = active.iter().any(|r| r.uid == job_uid);
        match finished(job) {
            None if !in_active => events.push(warning(
                "UnexpectedJob",
                format!(
                    "Saw a job that the controller did not create or forgot: {}",
                    job.name_any()
                ),
            )),
            None => {}
            Some(condition) => {
                if in_active {
                    active.retain(|r| r.uid != job_uid);
                    events.push(normal(
                        "SawCompletedJob",
                        format!(
                            "Saw completed job: {}, condition: {condition}",
                            job.name_any()
                        ),
                    ));
                }
                let completed = job.status.as_ref().and_then(|s| s.completion_time.clone());
                if condition == "Complete" && completed > status.last_successful_time {
                    status.last_successful_time = completed;
                }
            }
        }
    }
    active.retain(|r| {
        let exists = owned.iter().any(|j| j.uid() == r.uid);
        if !exists {
            let name = r.name.as_deref().unwrap_or_default();
            events.push(normal(
                "MissingJob",
                format!("Active job went missing: {name}"),
            ));
        }
        exists
    });

    let mut step = Plan {
        delete,
        create: None,
        status,
        events,
        requeue_after: None,
    };
    if let Some(schedule) = startable(cj, &mut step.events) {
        schedule_due(cj, &schedule, now, &mut active, &mut step);
    }
    step.status.active = (!active.is_empty()).then_some(active);
    step
}

/// The scheduled time now due, if any, and whether to start its Job (upstream `syncCronJob`
/// after the active list is settled); where to look again.
fn schedule_due(
    cj: &CronJob,
    schedule: &Schedule,
    now: Timestamp,
    active: &mut Vec<ObjectReference>,
    step: &mut Plan,
) {
    let spec = &cj.spec;
    let mut history = History {
        created: cj.creation_timestamp().map_or(now, |t| t.0),
        last_scheduled: step.status.last_schedule_time.as_ref().map(|t| t.0),
        starting_deadline_seconds: spec.starting_deadline_seconds,
    };
    let due = times::due(history, now, schedule, true);
    step.requeue_after = times::requeue_after(history, now, schedule);
    if times::many_missed(&due) {
        step.events.push(warning(
            "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or \
             check clock skew"
                .into(),
        ));
    }
    let Some(t) = due.most_recent else {
        return;
    };
    let job_name = format!("{}-{}", cj.name_any(), t.as_second().div_euclid(60));
    let policy = spec.concurrency_policy.as_deref();
    // A time past `startingDeadlineSeconds` never gets here: the deadline moved the earliest
    // time up (upstream's later MissSchedule check cannot fire).
    if active.iter().any(|r| r.name.as_deref() == Some(&job_name))
        || history.last_scheduled == Some(t)
    {
        // Started already: the status write of that sync may still be on its way.
    } else if policy == Some("Forbid") && !active.is_empty() {
        step.events.push(normal(
            "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is \
             Forbid"
                .into(),
        ));
    } else {
        if policy == Some("Replace") {
            step.delete.extend(active.drain(..).filter_map(|r| r.name));
        }
        step.create = Some(job_for(cj, &job_name, t));
        step.status.last_schedule_time = Some(Time(t));
        history.last_scheduled = Some(t);
        step.requeue_after = times::requeue_after(history, now, schedule);
    }
}

/// The schedule, unless the CronJob is being deleted, suspended, or its zone or schedule
/// cannot be used (each recorded as upstream does).
fn startable(cj: &CronJob, events: &mut Vec<Note>) -> Option<Schedule> {
    let spec = &cj.spec;
    if cj.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if let Some(zone) = &spec.time_zone
        && let Err(e) = podnet_k8s_cron::time_zone(zone)
    {
        events.push(warning(
            "UnknownTimeZone",
            format!("invalid timeZone: {zone:?}: {e}"),
        ));
        return None;
    }
    if spec.suspend == Some(true) {
        return None;
    }
    match Schedule::parse(&spec.schedule, spec.time_zone.as_deref()) {
        Ok(schedule) => Some(schedule),
        Err(e) => {
            events.push(warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {e}", spec.schedule),
            ));
            None
        }
    }
}

/// The oldest finished Jobs beyond `successfulJobsHistoryLimit` and `failedJobsHistoryLimit`
/// (unset: kept), oldest start first.
fn past_history_limits(owned: &[&Job], spec: &CronJobSpec) -> Vec<String> {
    let mut out = Vec::new();
    for (condition, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else {
            continue;
        };
        let mut done: Vec<&Job> = owned
            .iter()
            .copied()
            .filter(|j| finished(j) == Some(condition))
            .collect();
        done.sort_by(|a, b| by_start_time(a, b));
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        out.extend(done[..excess].iter().map(|j| j.name_any()));
    }
    out
}

/// Started before not started; earlier first; then by name (upstream `byJobStartTime`).
fn by_start_time(a: &Job, b: &Job) -> Ordering {
    let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.clone());
    match (start(a), start(b)) {
        (Some(x), Some(y)) if x != y => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => a.name_any().cmp(&b.name_any()),
    }
}

/// `Complete` or `Failed` once the Job has finished.
fn finished(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// The Job of the time `scheduled` (upstream `getJobFromTemplate2`): the template's labels,
/// annotations and spec, the scheduled time as an annotation, controlled by the CronJob.
fn job_for(cj: &CronJob, name: &str, scheduled: Timestamp) -> Job {
    let spec = &cj.spec;
    let template = spec.job_template.clone();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let zone = spec
        .time_zone
        .as_deref()
        .and_then(|z| podnet_k8s_cron::time_zone(z).ok())
        .unwrap_or(TimeZone::UTC);
    annotations.insert(SCHEDULED_TIMESTAMP.into(), rfc3339(scheduled, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: cj.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![controller_ref(cj)]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// Go's `time.RFC3339` in `zone`: `Z` for a zero offset, else `+01:00`.
fn rfc3339(t: Timestamp, zone: TimeZone) -> String {
    let local = t.to_zoned(zone);
    if local.offset().seconds() == 0 {
        local.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

fn normal(reason: &'static str, message: String) -> Note {
    Note {
        warning: false,
        reason,
        message,
    }
}

fn warning(reason: &'static str, message: String) -> Note {
    Note {
        warning: true,
        reason,
        message,
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
