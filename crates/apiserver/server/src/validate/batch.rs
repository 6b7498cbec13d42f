//! batch/v1 kinds.

use serde_json::Value;

use super::apps::{non_negative, selector_and_template};
use super::{Errors, object_meta, pod_spec};

pub fn job(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    selector_and_template(spec, errs);
    pod_spec(&spec["template"]["spec"], "spec.template.spec", errs);
    let policy = &spec["template"]["spec"]["restartPolicy"];
    if !matches!(policy.as_str(), Some("OnFailure" | "Never")) {
        errs.not_supported(
            "spec.template.spec.restartPolicy",
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
        non_negative(&spec[field], &format!("spec.{field}"), errs);
    }
    if spec["activeDeadlineSeconds"]
        .as_i64()
        .is_some_and(|n| n <= 0)
    {
        errs.invalid(
            "spec.activeDeadlineSeconds",
            &spec["activeDeadlineSeconds"],
            "must be greater than 0",
        );
    }
    if let Some(mode) = spec["completionMode"].as_str()
        && !["NonIndexed", "Indexed"].contains(&mode)
    {
        errs.not_supported(
            "spec.completionMode",
            &spec["completionMode"],
            &["NonIndexed", "Indexed"],
        );
    }
}
