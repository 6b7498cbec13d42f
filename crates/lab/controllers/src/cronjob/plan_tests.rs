use k8s_openapi::api::batch::v1::{CronJobSpec, JobCondition, JobStatus, JobTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::SignedDuration;

use super::*;

/// Created at 19:00:10 on Monday 2026-12-07, every minute, with upstream's defaults.
fn cron_job(f: impl FnOnce(&mut CronJob)) -> CronJob {
    let mut cj = CronJob {
        metadata: ObjectMeta {
            name: Some("tick".into()),
            namespace: Some("default".into()),
            uid: Some("cj-uid".into()),
            creation_timestamp: Some(Time(at("19:00:10"))),
            ..Default::default()
        },
        spec: CronJobSpec {
            schedule: "*/1 * * * *".into(),
            concurrency_policy: Some("Allow".into()),
            suspend: Some(false),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "tick".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(Default::default()),
            },
            ..Default::default()
        },
        status: None,
    };
    f(&mut cj);
    cj
}

fn spec(cj: &mut CronJob) -> &mut CronJobSpec {
    &mut cj.spec
}

/// A Job of the CronJob, started at `start`; `finished`: its final condition.
fn job(name: &str, start: &str, finished: Option<&str>) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            uid: Some(format!("{name}-uid")),
            owner_references: Some(vec![OwnerReference {
                uid: "cj-uid".into(),
                controller: Some(true),
                ..Default::default()
            }]),
            ..Default::default()
        },
        spec: None,
        status: Some(JobStatus {
            start_time: Some(Time(at(start))),
            completion_time: finished.map(|_| Time(at(start) + SignedDuration::from_secs(5))),
            conditions: finished.map(|type_| {
                vec![JobCondition {
                    type_: type_.into(),
                    status: "True".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        }),
    }
}

fn active_ref(name: &str) -> ObjectReference {
    ObjectReference {
        name: Some(name.into()),
        uid: Some(format!("{name}-uid")),
        ..Default::default()
    }
}

fn with_active(names: &[&str]) -> impl FnOnce(&mut CronJob) {
    let active: Vec<ObjectReference> = names.iter().map(|n| active_ref(n)).collect();
    move |cj| {
        cj.status.get_or_insert_default().active = Some(active);
    }
}

/// `HH:MM:SS[.f]` on 2026-12-07, UTC.
fn at(time: &str) -> Timestamp {
    format!("2026-12-07T{time}Z").parse().unwrap()
}

/// The `HH:MM:SS` of `t`.
fn clock(t: Timestamp) -> String {
    t.to_zoned(TimeZone::UTC).strftime("%H:%M:%S").to_string()
}

/// The Job name of the minute `HH:MM` (minutes since the epoch, as upstream).
fn name_at(time: &str) -> String {
    format!("tick-{}", at(&format!("{time}:00")).as_second() / 60)
}

fn reasons(p: &Plan) -> Vec<&str> {
    p.events.iter().map(|e| e.reason).collect()
}

fn active_names(p: &Plan) -> Vec<String> {
    let refs = p.status.active.iter().flatten();
    refs.filter_map(|r| r.name.clone()).collect()
}

#[test]
fn nothing_is_started_before_the_first_scheduled_time() {
    let p = plan(&cron_job(|_| {}), &[], at("19:00:50"));
    assert_eq!(p.create, None);
    assert!(p.events.is_empty(), "{:?}", p.events);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(10_100)));
}

#[test]
fn a_due_time_starts_its_job_named_after_the_minute() {
    let p = plan(&cron_job(|_| {}), &[], at("19:01:00.5"));
    let job = p.create.expect("a job");
    assert_eq!(job.name_any(), name_at("19:01"));
    assert_eq!(job.labels()["app"], "tick");
    assert_eq!(
        job.annotations()[SCHEDULED_TIMESTAMP],
        "2026-12-07T19:01:00Z"
    );
    let owner = &job.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("CronJob", "tick", "cj-uid")
    );
    assert_eq!(owner.controller, Some(true));
    assert_eq!(
        p.status.last_schedule_time,
        Some(Time(at("19:01:00"))),
        "set with the job"
    );
    assert_eq!(p.requeue_after, Some(Duration::from_millis(59_600)));
}

#[test]
fn a_time_already_started_is_not_started_again() {
    let cj = cron_job(|cj| {
        cj.status = Some(CronJobStatus {
            last_schedule_time: Some(Time(at("19:01:00"))),
            ..Default::default()
        });
    });
    assert_eq!(plan(&cj, &[], at("19:01:30")).create, None);
    // Nor when the status write was lost but the Job is in the active list.
    let name = name_at("19:01");
    let cj = cron_job(with_active(&[&name]));
    let running = job(&name, "19:01:01", None);
    assert_eq!(plan(&cj, &[running], at("19:01:30")).create, None);
}

#[test]
fn only_the_latest_missed_time_is_started() {
    let cj = cron_job(|cj| {
        cj.status = Some(CronJobStatus {
            last_schedule_time: Some(Time(at("18:50:00"))),
            ..Default::default()
        });
    });
    let p = plan(&cj, &[], at("19:05:30"));
    assert_eq!(p.create.unwrap().name_any(), name_at("19:05"));
}

#[test]
fn a_time_past_the_starting_deadline_is_skipped() {
    let cj = cron_job(|cj| spec(cj).starting_deadline_seconds = Some(10));
    let p = plan(&cj, &[], at("19:01:20"));
    assert_eq!(p.create, None);
    assert!(p.events.is_empty(), "{:?}", p.events);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(40_100)));
    let p = plan(&cj, &[], at("19:01:05"));
    assert_eq!(p.create.unwrap().name_any(), name_at("19:01"), "within it");
}

#[test]
fn concurrency_policies_decide_about_a_running_job() {
    let running_name = name_at("19:01");
    let running = job(&running_name, "19:01:01", None);
    let now = at("19:02:00.5");

    let p = plan(
        &cron_job(with_active(&[&running_name])),
        std::slice::from_ref(&running),
        now,
    );
    assert_eq!(active_names(&p), std::slice::from_ref(&running_name));
    assert_eq!(p.create.unwrap().name_any(), name_at("19:02"), "Allow");
    assert!(p.delete.is_empty());

    let forbid = cron_job(|cj| {
        with_active(&[&running_name])(cj);
        spec(cj).concurrency_policy = Some("Forbid".into());
    });
    let p = plan(&forbid, std::slice::from_ref(&running), now);
    assert_eq!(p.create, None, "Forbid");
    assert_eq!(reasons(&p), ["JobAlreadyActive"]);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(59_600)));

    let replace = cron_job(|cj| {
        with_active(&[&running_name])(cj);
        spec(cj).concurrency_policy = Some("Replace".into());
    });
    let p = plan(&replace, &[running], now);
    assert_eq!(p.delete, [running_name], "Replace");
    assert!(active_names(&p).is_empty());
    assert_eq!(p.create.unwrap().name_any(), name_at("19:02"));
}

#[test]
fn a_finished_job_leaves_the_active_list() {
    let name = name_at("19:01");
    let cj = cron_job(with_active(&[&name]));
    let done = job(&name, "19:01:01", Some("Complete"));
    let p = plan(&cj, &[done], at("19:01:30"));
    assert!(active_names(&p).is_empty());
    assert_eq!(reasons(&p), ["SawCompletedJob"]);
    assert_eq!(
        p.events[0].message,
        format!("Saw completed job: {name}, condition: Complete")
    );
    assert_eq!(p.status.last_successful_time, Some(Time(at("19:01:06"))));
    assert_eq!(p.status.active, None, "an empty list is left out");
}

#[test]
fn the_oldest_finished_jobs_beyond_the_history_limits_are_deleted() {
    let jobs = [
        job("ok-1", "18:01:00", Some("Complete")),
        job("ok-4", "18:04:00", Some("Complete")),
        job("ok-2", "18:02:00", Some("Complete")),
        job("ok-3", "18:03:00", Some("Complete")),
        job("ok-5", "18:05:00", Some("Complete")),
        job("bad-1", "18:01:30", Some("Failed")),
        job("bad-2", "18:02:30", Some("Failed")),
        job("running", "18:06:00", None),
    ];
    let cj = cron_job(with_active(&["running"]));
    let p = plan(&cj, &jobs, at("19:00:30"));
    assert_eq!(p.delete, ["ok-1", "ok-2", "bad-1"]);
    assert!(p.events.is_empty(), "{:?}", p.events);

    let unlimited = cron_job(|cj| {
        with_active(&["running"])(cj);
        spec(cj).successful_jobs_history_limit = None;
        spec(cj).failed_jobs_history_limit = Some(0);
    });
    let p = plan(&unlimited, &jobs, at("19:00:30"));
    assert_eq!(p.delete, ["bad-1", "bad-2"]);
}

#[test]
fn jobs_gone_or_unknown_are_reported() {
    let cj = cron_job(with_active(&["gone"]));
    let stranger = job("manual", "19:00:20", None);
    let p = plan(&cj, &[stranger], at("19:00:30"));
    assert_eq!(reasons(&p), ["UnexpectedJob", "MissingJob"]);
    assert_eq!(
        p.events[0].message,
        "Saw a job that the controller did not create or forgot: manual"
    );
    assert_eq!(p.events[1].message, "Active job went missing: gone");
    assert!(active_names(&p).is_empty());
}

#[test]
fn a_suspended_or_deleted_cron_job_starts_nothing_and_sleeps() {
    let suspended = cron_job(|cj| spec(cj).suspend = Some(true));
    let p = plan(&suspended, &[], at("19:05:00.5"));
    assert_eq!((p.create, p.requeue_after), (None, None));
    let deleted = cron_job(|cj| cj.metadata.deletion_timestamp = Some(Time(at("19:04:00"))));
    let p = plan(&deleted, &[], at("19:05:00.5"));
    assert_eq!((p.create, p.requeue_after), (None, None));
}

#[test]
fn a_time_zone_moves_the_schedule_and_the_annotation() {
    let cj = cron_job(|cj| {
        spec(cj).schedule = "0 20 * * *".into();
        spec(cj).time_zone = Some("Europe/Berlin".into());
    });
    // 20:00 in Berlin is 19:00 UTC; the CronJob was made at 19:00:10 UTC.
    let p = plan(&cj, &[], at("19:30:00"));
    assert_eq!(p.create, None);
    let next_day = "2026-12-08T19:00:00.5Z".parse().unwrap();
    let p = plan(&cj, &[], next_day);
    let job = p.create.expect("the 20:00 Berlin run");
    assert_eq!(
        job.annotations()[SCHEDULED_TIMESTAMP],
        "2026-12-08T20:00:00+01:00"
    );
}

#[test]
fn an_unknown_time_zone_is_reported_and_nothing_starts() {
    let cj = cron_job(|cj| spec(cj).time_zone = Some("Mars/Olympus".into()));
    let p = plan(&cj, &[], at("19:05:00.5"));
    assert_eq!(p.create, None);
    assert_eq!(reasons(&p), ["UnknownTimeZone"]);
    assert_eq!(
        p.events[0].message,
        "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus"
    );
}

/// Minute after minute with a fake clock: a Forbid CronJob whose Jobs take 90 s runs one at
/// a time, and the history keeps the last three.
#[test]
fn forbid_over_several_minutes_runs_one_job_at_a_time() {
    let mut cj = cron_job(|cj| spec(cj).concurrency_policy = Some("Forbid".into()));
    let mut jobs: Vec<Job> = Vec::new();
    let mut started = Vec::new();
    for second in (60..=900).step_by(15) {
        let now = at("19:00:00") + SignedDuration::from_secs(second);
        // The Job controller's part: a Job completes 90 s after it starts.
        for j in &mut jobs {
            let start = j.status.as_ref().unwrap().start_time.clone().unwrap().0;
            if finished(j).is_none() && now.duration_since(start).as_secs() >= 90 {
                *j = job(&j.name_any(), &clock(start), Some("Complete"));
            }
        }
        let p = plan(&cj, &jobs, now);
        jobs.retain(|j| !p.delete.contains(&j.name_any()));
        let mut status = p.status.clone();
        if let Some(new) = p.create {
            let created = job(&new.name_any(), &clock(now), None);
            let refs = status.active.get_or_insert_default();
            refs.push(active_ref(&new.name_any()));
            started.push(now);
            jobs.push(created);
        }
        cj.status = Some(status);
        let running = jobs.iter().filter(|j| finished(j).is_none()).count();
        assert!(running <= 1, "at {now}: {running} running");
    }
    // Starts at 19:01; the 19:02 run waits for the first to end at 19:02:30, then starts
    // late (there is no starting deadline).
    assert_eq!(started[0], at("19:01:00"));
    assert_eq!(started[1], at("19:02:30"));
    assert!(started.len() >= 6, "{started:?}");
    assert_eq!(jobs.iter().filter(|j| finished(j).is_some()).count(), 3);
}
