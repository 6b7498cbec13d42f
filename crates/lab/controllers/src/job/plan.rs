//! One sync of a Job (upstream job controller `syncJob`, NonIndexed completion): pods to
//! create up to `parallelism` while completions remain, the end of the Job (its
//! completions reached, its backoffLimit or activeDeadlineSeconds exceeded) with upstream's
//! conditions and reasons, suspension, and the status.

use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::pods::{controller_uid, deletion_order, is_ready, phase};

/// What one sync does. A pod created or deleted is where upstream records a
/// `SuccessfulCreate`/`SuccessfulDelete` event; a new Complete or Failed condition is
/// where it records `Completed` or `BackoffLimitExceeded`/`DeadlineExceeded`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub create: usize,
    pub delete: Vec<String>,
    pub status: JobStatus,
    /// The Job has finished and its `ttlSecondsAfterFinished` has passed: delete it.
    pub expired: bool,
    /// Look again after this long (a deadline or a TTL running out).
    pub requeue_after: Option<Duration>,
}

/// Why a Job is failing: upstream's reason and message.
const BACKOFF: (&str, &str) = (
    "BackoffLimitExceeded",
    "Job has reached the specified backoff limit",
);
const DEADLINE: (&str, &str) = (
    "DeadlineExceeded",
    "Job was active longer than specified deadline",
);
const COMPLETED: (&str, &str) = (
    "CompletionsReached",
    "Reached expected number of succeeded pods",
);

/// `pods`: the pods the Job's selector matches.
pub fn plan(job: &Job, pods: &[Pod], now: Timestamp) -> Plan {
    let spec = job.spec.clone().unwrap_or_default();
    let uid = job.uid().unwrap_or_default();
    let old = job.status.clone().unwrap_or_default();
    let owned: Vec<&Pod> = pods
        .iter()
        .filter(|p| controller_uid(*p) == Some(uid.as_str()))
        .collect();
    let terminating = owned
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
        .count();
    let mut active: Vec<&Pod> = owned
        .iter()
        .copied()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| !matches!(phase(p), Some("Succeeded" | "Failed")))
        .collect();
    // Finished pods may be removed later: the counts never go down.
    let count_phase = |want: &str| owned.iter().filter(|p| phase(p) == Some(want)).count() as i32;
    let succeeded = count_phase("Succeeded").max(old.succeeded.unwrap_or(0));
    let failed = count_phase("Failed").max(old.failed.unwrap_or(0));
    let mut conds = Conditions(old.conditions.clone().unwrap_or_default(), now);
    let finished = conds.is_true("Complete") || conds.is_true("Failed");
    let suspended = spec.suspend == Some(true);
    let mut start_time = old.start_time.clone();
    let mut completion_time = old.completion_time.clone();
    let mut create = 0;
    let mut delete = Vec::new();
    let mut requeue_after = None;

    if !finished {
        if suspended {
            if !conds.is_true("Suspended") {
                conds.set("Suspended", "True", "JobSuspended", "Job suspended");
            }
            start_time = None;
            delete.extend(active.drain(..).map(|p| p.name_any()));
        } else {
            if conds.is_true("Suspended") {
                conds.set("Suspended", "False", "JobResumed", "Job resumed");
            }
            let start = start_time.get_or_insert(Time(now)).0;
            let deadline = spec
                .active_deadline_seconds
                .and_then(|s| start.checked_add(SignedDuration::from_secs(s)).ok());
            let completions = spec.completions;
            let done = match completions {
                Some(c) => succeeded >= c,
                // A work queue is done once one pod succeeded and none is left running.
                None => succeeded > 0 && active.is_empty(),
            };
            let failing = if failed > spec.backoff_limit.unwrap_or(6) {
                Some(BACKOFF)
            } else if deadline.is_some_and(|d| d <= now) {
                Some(DEADLINE)
            } else {
                None
            };
            if done && failing.is_none() || conds.is_true("SuccessCriteriaMet") {
                conds.set("SuccessCriteriaMet", "True", COMPLETED.0, COMPLETED.1);
                delete.extend(active.drain(..).map(|p| p.name_any()));
                if terminating == 0 && delete.is_empty() {
                    conds.set("Complete", "True", COMPLETED.0, COMPLETED.1);
                    completion_time = Some(Time(now));
                }
            } else if let Some((reason, message)) = failing.or_else(|| failure_target(&conds)) {
                conds.set("FailureTarget", "True", reason, message);
                delete.extend(active.drain(..).map(|p| p.name_any()));
                if terminating == 0 && delete.is_empty() {
                    conds.set("Failed", "True", reason, message);
                }
            } else {
                let parallelism = spec.parallelism.unwrap_or(1).max(0);
                let want = match completions {
                    Some(c) => parallelism.min(c - succeeded),
                    None if succeeded > 0 => 0,
                    None => parallelism,
                }
                .max(0) as usize;
                if active.len() < want {
                    create = want - active.len();
                } else if active.len() > want {
                    let mut ranked = active.clone();
                    deletion_order(&mut ranked);
                    delete.extend(
                        ranked
                            .iter()
                            .take(active.len() - want)
                            .map(|p| p.name_any()),
                    );
                }
                requeue_after = deadline.map(|d| left(now, d));
            }
        }
    }
    let finished_at = conds
        .0
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.clone());
    let mut expired = false;
    if let (Some(at), Some(ttl)) = (finished_at, spec.ttl_seconds_after_finished) {
        let expires =
            at.0.checked_add(SignedDuration::from_secs(i64::from(ttl)))
                .ok();
        match expires {
            Some(t) if t <= now => expired = true,
            Some(t) => requeue_after = Some(left(now, t)),
            None => {}
        }
    }
    let still_active = active.len() as i32;
    let status = JobStatus {
        active: nonzero(still_active),
        ready: Some(active.iter().filter(|p| is_ready(p)).count() as i32),
        succeeded: nonzero(succeeded),
        failed: nonzero(failed),
        terminating: Some((terminating + delete.len()) as i32),
        start_time,
        completion_time,
        conditions: (!conds.0.is_empty()).then_some(conds.0),
        uncounted_terminated_pods: Some(Default::default()),
        ..old
    };
    Plan {
        create,
        delete,
        status,
        expired,
        requeue_after,
    }
}

/// A FailureTarget already set (its pods are being removed) keeps the Job failing.
fn failure_target(conds: &Conditions) -> Option<(&'static str, &'static str)> {
    let c = conds.get("FailureTarget").filter(|c| c.status == "True")?;
    Some(if c.reason.as_deref() == Some(DEADLINE.0) {
        DEADLINE
    } else {
        BACKOFF
    })
}

fn left(now: Timestamp, then: Timestamp) -> Duration {
    Duration::from_secs(then.duration_since(now).as_secs().max(0) as u64 + 1)
}

fn nonzero(n: i32) -> Option<i32> {
    (n > 0).then_some(n)
}

/// The Job's conditions; setting one keeps its transition time while its status stays.
struct Conditions(Vec<JobCondition>, Timestamp);

// === impl Conditions ===

impl Conditions {
    fn get(&self, type_: &str) -> Option<&JobCondition> {
        self.0.iter().find(|c| c.type_ == type_)
    }

    fn is_true(&self, type_: &str) -> bool {
        self.get(type_).is_some_and(|c| c.status == "True")
    }

    fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let now = Time(self.1);
        if let Some(c) = self.get(type_)
            && c.status == status
            && c.reason.as_deref() == Some(reason)
        {
            return;
        }
        let cond = JobCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_probe_time: Some(now.clone()),
            last_transition_time: Some(now),
        };
        match self.0.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => *c = cond,
            None => self.0.push(cond),
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
