use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{PodSpec, PodStatus, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::*;

fn job(f: impl FnOnce(&mut JobSpec)) -> Job {
    let mut spec = JobSpec {
        completions: Some(1),
        parallelism: Some(1),
        backoff_limit: Some(6),
        template: PodTemplateSpec {
            spec: Some(PodSpec {
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    f(&mut spec);
    Job {
        metadata: ObjectMeta {
            name: Some("pi".into()),
            uid: Some("job-uid".into()),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

fn pod(name: &str, phase: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: Some(vec![OwnerReference {
                uid: "job-uid".into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec::default()),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_000_000 + second).unwrap()
}

fn condition<'a>(s: &'a JobStatus, type_: &str) -> Option<(&'a str, &'a str)> {
    let c = s.conditions.as_ref()?.iter().find(|c| c.type_ == type_)?;
    Some((c.status.as_str(), c.reason.as_deref().unwrap_or("")))
}

/// Runs syncs with each pod's fate decided by `outcome(n)` (the n-th pod made), as a
/// kubelet would; returns the last status.
fn run(mut j: Job, outcome: impl Fn(usize) -> &'static str) -> (JobStatus, usize) {
    let mut pods: Vec<Pod> = Vec::new();
    for _ in 0..100 {
        let p = plan(&j, &pods, at(0));
        pods.retain(|x| !p.delete.contains(&x.name_any()));
        for _ in 0..p.create {
            let n = pods.len();
            pods.push(pod(&format!("pi-{n}"), "Running"));
        }
        let unchanged =
            p.create == 0 && p.delete.is_empty() && j.status.as_ref() == Some(&p.status);
        j.status = Some(p.status.clone());
        if unchanged {
            return (p.status, pods.len());
        }
        // The kubelet finishes every running pod.
        for (n, x) in pods.iter_mut().enumerate() {
            if x.status.as_ref().unwrap().phase.as_deref() == Some("Running") {
                x.status.as_mut().unwrap().phase = Some(outcome(n).into());
            }
        }
    }
    panic!("the job did not settle");
}

#[test]
fn a_job_runs_its_completions_parallelism_at_a_time_and_completes() {
    let first = plan(
        &job(|s| (s.completions, s.parallelism) = (Some(5), Some(2))),
        &[],
        at(0),
    );
    assert_eq!(first.create, 2);
    assert_eq!(first.status.start_time, Some(Time(at(0))));
    let (s, made) = run(
        job(|s| (s.completions, s.parallelism) = (Some(5), Some(2))),
        |_| "Succeeded",
    );
    assert_eq!((made, s.succeeded, s.active), (5, Some(5), None));
    assert_eq!(
        condition(&s, "SuccessCriteriaMet"),
        Some(("True", "CompletionsReached"))
    );
    assert_eq!(
        condition(&s, "Complete"),
        Some(("True", "CompletionsReached"))
    );
    assert!(s.completion_time.is_some());
}

#[test]
fn failed_pods_are_retried_until_the_backoff_limit_then_the_job_fails() {
    let (s, made) = run(job(|s| s.backoff_limit = Some(2)), |_| "Failed");
    assert_eq!(
        (made, s.failed),
        (3, Some(3)),
        "the first try and two retries"
    );
    assert_eq!(
        condition(&s, "FailureTarget"),
        Some(("True", "BackoffLimitExceeded"))
    );
    assert_eq!(
        condition(&s, "Failed"),
        Some(("True", "BackoffLimitExceeded"))
    );
    assert_eq!(condition(&s, "Complete"), None);
    // One failure, then success: complete.
    let (s, _) = run(job(|_| {}), |n| if n == 0 { "Failed" } else { "Succeeded" });
    assert_eq!((s.failed, s.succeeded), (Some(1), Some(1)));
    assert_eq!(
        condition(&s, "Complete"),
        Some(("True", "CompletionsReached"))
    );
}

#[test]
fn the_active_deadline_fails_the_job_and_removes_its_pods() {
    let mut j = job(|s| s.active_deadline_seconds = Some(30));
    let p = plan(&j, &[], at(0));
    assert_eq!(p.requeue_after, Some(Duration::from_secs(31)));
    j.status = Some(p.status);
    let running = pod("pi-0", "Running");
    let p = plan(&j, std::slice::from_ref(&running), at(31));
    assert_eq!(p.delete, ["pi-0"]);
    assert_eq!(
        condition(&p.status, "FailureTarget"),
        Some(("True", "DeadlineExceeded"))
    );
    assert_eq!(
        condition(&p.status, "Failed"),
        None,
        "not before its pods are gone"
    );
    j.status = Some(p.status);
    let p = plan(&j, &[], at(32));
    assert_eq!(
        condition(&p.status, "Failed"),
        Some(("True", "DeadlineExceeded"))
    );
}

#[test]
fn suspending_removes_the_pods_and_resuming_starts_again() {
    let mut j = job(|s| s.suspend = Some(true));
    let p = plan(&j, &[pod("pi-0", "Running")], at(0));
    assert_eq!(
        (p.create, p.delete.as_slice()),
        (0, ["pi-0".to_string()].as_slice())
    );
    assert_eq!(
        condition(&p.status, "Suspended"),
        Some(("True", "JobSuspended"))
    );
    assert_eq!(p.status.start_time, None);
    j.status = Some(p.status);
    j.spec.as_mut().unwrap().suspend = Some(false);
    let p = plan(&j, &[], at(5));
    assert_eq!(p.create, 1);
    assert_eq!(
        condition(&p.status, "Suspended"),
        Some(("False", "JobResumed"))
    );
}

#[test]
fn a_finished_job_expires_after_its_ttl() {
    let (s, _) = run(
        job(|s| s.ttl_seconds_after_finished = Some(100)),
        |_| "Succeeded",
    );
    let mut j = job(|s| s.ttl_seconds_after_finished = Some(100));
    j.status = Some(s);
    let p = plan(&j, &[], at(50));
    assert!(!p.expired);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(51)));
    assert!(plan(&j, &[], at(100)).expired);
}

#[test]
fn a_work_queue_job_completes_when_a_pod_succeeded_and_none_runs() {
    let (s, made) = run(
        job(|s| (s.completions, s.parallelism) = (None, Some(3))),
        |_| "Succeeded",
    );
    assert_eq!(made, 3);
    assert_eq!(
        condition(&s, "Complete"),
        Some(("True", "CompletionsReached"))
    );
}
