//! batch/v1 kinds (upstream pkg/apis/batch/validation).

use serde_json::{Value, json};

use super::apps::{non_negative, one_of, selector_and_template};
use super::{Errors, labels, object_meta, pod_spec};

pub fn job(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    selector_and_template(spec, errs);
    job_spec(spec, "spec", errs);
}

/// A Job's name gets `-` and the scheduled minute (up to 10 digits) appended: 63 − 11.
const MAX_CRON_JOB_NAME: usize = 52;

pub fn cron_job(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    match spec["schedule"].as_str().filter(|s| !s.is_empty()) {
        None => errs.required("spec.schedule"),
        Some(schedule) => {
            let value = &spec["schedule"];
            if let Err(e) = podnet_k8s_cron::grammar::parse(schedule) {
                errs.invalid("spec.schedule", value, &e.to_string());
            }
            // Only objects stored before the timeZone field may keep a TZ= prefix.
            if schedule.contains("TZ") {
                errs.invalid(
                    "spec.schedule",
                    value,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                );
            }
        }
    }
    non_negative(
        &spec["startingDeadlineSeconds"],
        "spec.startingDeadlineSeconds",
        errs,
    );
    time_zone(&spec["timeZone"], errs);
    match spec["concurrencyPolicy"].as_str() {
        Some("") => errs.required("spec.concurrencyPolicy"),
        _ => one_of(
            &spec["concurrencyPolicy"],
            "spec.concurrencyPolicy",
            &["Allow", "Forbid", "Replace"],
            errs,
        ),
    }
    let template = &spec["jobTemplate"]["spec"];
    job_spec(template, "spec.jobTemplate.spec", errs);
    labels(
        &template["template"]["metadata"]["labels"],
        "spec.jobTemplate.spec.template.metadata.labels",
        errs,
    );
    if !template["selector"].is_null() {
        errs.invalid(
            "spec.jobTemplate.spec.selector",
            &template["selector"],
            "`selector` will be auto-generated",
        );
    }
    if template["manualSelector"] == true {
        errs.not_supported(
            "spec.jobTemplate.spec.manualSelector",
            &json!(true),
            &["nil", "false"],
        );
    }
    for field in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        non_negative(&spec[field], &format!("spec.{field}"), errs);
    }
    let name = &obj["metadata"]["name"];
    if name.as_str().is_some_and(|n| n.len() > MAX_CRON_JOB_NAME) {
        errs.invalid("metadata.name", name, "must be no more than 52 characters");
    }
}

/// What a Job's spec and a CronJob's job template share; `at` is the spec's path.
fn job_spec(spec: &Value, at: &str, errs: &mut Errors) {
    pod_spec(
        &spec["template"]["spec"],
        &format!("{at}.template.spec"),
        errs,
    );
    let policy = &spec["template"]["spec"]["restartPolicy"];
    if !matches!(policy.as_str(), Some("OnFailure" | "Never")) {
        errs.not_supported(
            &format!("{at}.template.spec.restartPolicy"),
            policy,
            &["OnFailure", "Never"],
        );
    }
    for field in [
        "parallelism",
        "completions",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        non_negative(&spec[field], &format!("{at}.{field}"), errs);
    }
    if spec["activeDeadlineSeconds"]
        .as_i64()
        .is_some_and(|n| n <= 0)
    {
        errs.invalid(
            &format!("{at}.activeDeadlineSeconds"),
            &spec["activeDeadlineSeconds"],
            "must be greater than 0",
        );
    }
    one_of(
        &spec["completionMode"],
        &format!("{at}.completionMode"),
        &["NonIndexed", "Indexed"],
        errs,
    );
}

/// An IANA zone name (upstream `validateTimeZone`): the tz database's naming rules, not
/// `Local`, and known to the zone database.
fn time_zone(value: &Value, errs: &mut Errors) {
    let Some(zone) = value.as_str() else {
        return;
    };
    const FIELD: &str = "spec.timeZone";
    if zone.is_empty() {
        errs.invalid(FIELD, value, "timeZone must be nil or non-empty string");
        return;
    }
    let well_named = |part: &str| {
        (1..=14).contains(&part.len())
            && part != "."
            && part != ".."
            && !part.starts_with('-')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_+".contains(c))
    };
    if !zone.split('/').all(well_named) {
        errs.invalid(FIELD, value, &format!("unknown time zone {zone}"));
        return;
    }
    if zone.eq_ignore_ascii_case("Local") {
        errs.invalid(
            FIELD,
            value,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        );
    } else if let Err(e) = podnet_k8s_cron::time_zone(zone) {
        errs.invalid(FIELD, value, &e.to_string());
    }
}
