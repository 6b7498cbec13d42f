//! CronJobs through kubectl against the real API server and controllers: what the API
//! server serves (defaults, validation wording, printer columns), and the controller
//! starting a Job without waiting a real minute — the test moves the CronJob's
//! `lastScheduleTime` into the past, so a scheduled time is already due.

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use podnet_test_util::Kubectl;
use serde_json::json;
use support::{Lab, eventually};

const HELLO: &str = include_str!("../../../../examples/manifests/cronjob.yaml");

async fn events_of(lab: &Lab, cron_job: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let selector = format!("involvedObject.kind=CronJob,involvedObject.name={cron_job}");
    let list = api
        .list(&ListParams::default().fields(&selector))
        .await
        .unwrap();
    list.items
        .into_iter()
        .map(|e| {
            let reason = e.reason.unwrap_or_default();
            (reason, e.message.unwrap_or_default())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_lists_and_validates_cron_jobs() {
    let lab = Lab::start(false).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let out = k
        .run(&[
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=*/5 * * * *",
            "--",
            "date",
        ])
        .await;
    assert_eq!(out.trim(), "cronjob.batch/tick created");
    let out = k.run(&["get", "cj"]).await;
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("  ")
        .filter(|s| !s.is_empty())
        .collect();
    let header: Vec<&str> = header.iter().map(|s| s.trim()).collect();
    assert_eq!(
        header,
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..10],
        [
            "tick", "*/5", "*", "*", "*", "*", "<none>", "False", "0", "<none>"
        ],
        "{out}"
    );
    let defaults = k
        .run(&[
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.spec.concurrencyPolicy} {.spec.successfulJobsHistoryLimit} \
             {.spec.failedJobsHistoryLimit} {.spec.jobTemplate.spec.template.spec.dnsPolicy}",
        ])
        .await;
    assert_eq!(defaults, "Allow 3 1 ClusterFirst");

    let bad = k.write(
        "bad.yaml",
        &HELLO.replace("\"* * * * *\"", "\"61 * * * *\"").replace(
            "spec:\n  schedule",
            "spec:\n  timeZone: Mars/Olympus\n  schedule",
        ),
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "spec.timeZone: Invalid value: \"Mars/Olympus\": unknown time zone Mars/Olympus"
        ),
        "{err}"
    );
    let (ok, _, err) = k
        .try_run(&[
            "create",
            "cronjob",
            "tock",
            "--image=busybox",
            "--schedule=@fortnightly",
        ])
        .await;
    assert!(!ok);
    assert!(
        err.contains("unrecognized descriptor: @fortnightly"),
        "{err}"
    );
    lab.stop().await;
}

/// The documentation's `hello` CronJob, a scheduled time already due: its Job, the active
/// list, a pod run to completion, the history; `kubectl create job --from`; and its Jobs
/// garbage-collected with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_time_starts_a_job_that_is_tracked_to_completion() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write("hello.yaml", HELLO);
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(out.contains("cronjob.batch/hello created"), "{out}");
    let cron_jobs: Api<CronJob> = Api::namespaced(lab.client.clone(), "default");
    let jobs: Api<Job> = Api::namespaced(lab.client.clone(), "default");

    // As if the controller had last started a Job ten minutes ago.
    let now = Timestamp::now();
    let minute = now.as_second().div_euclid(60);
    let long_ago = Timestamp::from_second((minute - 10) * 60).unwrap();
    let status = json!({"status": {"lastScheduleTime": long_ago.to_string()}});
    cron_jobs
        .patch_status("hello", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();

    let job = eventually("the Job of the latest missed minute", || async {
        let list = jobs.list(&ListParams::default()).await.ok()?;
        list.items
            .into_iter()
            .find(|j| j.name_any().starts_with("hello-"))
    })
    .await;
    let scheduled_minute: i64 = job.name_any()["hello-".len()..].parse().unwrap();
    assert!(
        (minute..=minute + 1).contains(&scheduled_minute),
        "{} is not the current minute {minute}",
        job.name_any()
    );
    let owner = &job.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("CronJob", "hello")
    );
    assert!(
        job.annotations()
            .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp")
    );
    let active = eventually("the Job in status.active", || async {
        let cj = cron_jobs.get("hello").await.ok()?;
        let active = cj.status?.active?;
        (active.len() == 1).then_some(active)
    })
    .await;
    assert_eq!(active[0].name.as_deref(), Some(job.name_any().as_str()));
    let out = k.run(&["get", "cronjob", "hello"]).await;
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[6..9], ["<none>", "False", "1"], "{out}");
    // No more Jobs from here on (a minute may turn during the test); the one started is
    // still tracked.
    let out = k
        .run(&[
            "patch",
            "cronjob",
            "hello",
            "-p",
            r#"{"spec":{"suspend":true}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "cronjob.batch/hello patched");

    // The kubelet stand-in runs the pod; it ends as a kubelet would report it.
    let pods: Api<Pod> = Api::namespaced(lab.client.clone(), "default");
    let selector = format!("job-name={}", job.name_any());
    let pod = eventually("the Job's pod running", || async {
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .ok()?;
        list.items
            .into_iter()
            .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
    })
    .await;
    let done = json!({"status": {"phase": "Succeeded"}});
    pods.patch_status(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&done),
    )
    .await
    .unwrap();
    let status = eventually("the CronJob seeing the Job complete", || async {
        let status = cron_jobs.get("hello").await.ok()?.status?;
        (status.active.is_none() && status.last_successful_time.is_some()).then_some(status)
    })
    .await;
    assert!(status.last_schedule_time.unwrap().0 > long_ago);
    let reasons = eventually("SuccessfulCreate and SawCompletedJob", || async {
        let events = events_of(&lab, "hello").await;
        let has = |r: &str| events.iter().any(|(reason, _)| reason == r);
        (has("SuccessfulCreate") && has("SawCompletedJob")).then_some(events)
    })
    .await;
    assert!(
        reasons.contains(&(
            "SuccessfulCreate".to_string(),
            format!("Created job {}", job.name_any())
        )),
        "{reasons:?}"
    );

    // A Job made by hand from the CronJob's template.
    let out = k
        .run(&["create", "job", "by-hand", "--from=cronjob/hello"])
        .await;
    assert_eq!(out.trim(), "job.batch/by-hand created");
    let by_hand = jobs.get("by-hand").await.unwrap();
    assert_eq!(
        by_hand.annotations()["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    assert_eq!(by_hand.owner_references()[0].name, "hello");

    // Deleting the CronJob takes its Jobs with it.
    k.run(&["delete", "cronjob", "hello"]).await;
    eventually("the CronJob's Jobs collected", || async {
        let list = jobs.list(&ListParams::default()).await.ok()?;
        list.items.is_empty().then_some(())
    })
    .await;
    lab.stop().await;
}
