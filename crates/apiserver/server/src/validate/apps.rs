//! apps/v1 kinds: the workload controllers' objects.

use serde_json::Value;

use super::{Cause, Errors, label_selector, labels, object_meta, pod_spec, selector_matches};

pub fn deployment(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    replicated_template(spec, errs);
    one_of(
        &spec["strategy"]["type"],
        "spec.strategy.type",
        &["Recreate", "RollingUpdate"],
        errs,
    );
}

pub fn replica_set(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    replicated_template(&obj["spec"], errs);
}

pub fn daemon_set(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    long_running_template(spec, errs);
    one_of(
        &spec["updateStrategy"]["type"],
        "spec.updateStrategy.type",
        &["OnDelete", "RollingUpdate"],
        errs,
    );
}

pub fn stateful_set(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    replicated_template(spec, errs);
    one_of(
        &spec["podManagementPolicy"],
        "spec.podManagementPolicy",
        &["OrderedReady", "Parallel"],
        errs,
    );
    one_of(
        &spec["updateStrategy"]["type"],
        "spec.updateStrategy.type",
        &["OnDelete", "RollingUpdate"],
        errs,
    );
    non_negative(
        &spec["updateStrategy"]["rollingUpdate"]["partition"],
        "spec.updateStrategy.rollingUpdate.partition",
        errs,
    );
}

pub fn controller_revision(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    non_negative(&obj["revision"], "revision", errs);
}

pub(super) fn non_negative(value: &Value, field: &str, errs: &mut Errors) {
    if value.as_i64().is_some_and(|n| n < 0) {
        errs.invalid(field, value, "must be greater than or equal to 0");
    }
}

/// What every replicated apps/v1 kind shares: `replicas` ≥ 0 and a long-running template.
fn replicated_template(spec: &Value, errs: &mut Errors) {
    non_negative(&spec["replicas"], "spec.replicas", errs);
    long_running_template(spec, errs);
}

/// A non-empty selector that selects the template's labels, and a pod template whose pods
/// restart `Always`.
fn long_running_template(spec: &Value, errs: &mut Errors) {
    selector_and_template(spec, errs);
    pod_spec(&spec["template"]["spec"], "spec.template.spec", errs);
    if let Some(policy) = spec["template"]["spec"]["restartPolicy"].as_str()
        && policy != "Always"
    {
        errs.not_supported(
            "spec.template.spec.restartPolicy",
            &Value::String(policy.into()),
            &["Always"],
        );
    }
}

/// `spec.selector` is required and must select `spec.template.metadata.labels`.
pub(super) fn selector_and_template(spec: &Value, errs: &mut Errors) {
    let selector = &spec["selector"];
    let empty_selector = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.is_empty())
        && selector["matchExpressions"]
            .as_array()
            .is_none_or(|m| m.is_empty());
    if empty_selector {
        errs.required("spec.selector");
    } else {
        label_selector(selector, "spec.selector", errs);
        let template_labels = &spec["template"]["metadata"]["labels"];
        if !selector_matches(selector, template_labels) {
            // Go prints the map as `map[string]string{"app":"web"}`.
            let pairs: Vec<String> = template_labels
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect();
            errs.0.push(Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: map[string]string{{{}}}: `selector` does not match \
                     template `labels`",
                    pairs.join(", ")
                ),
                field: "spec.template.metadata.labels".into(),
            });
        }
    }
    labels(
        &spec["template"]["metadata"]["labels"],
        "spec.template.metadata.labels",
        errs,
    );
}

/// A field that must be one of `allowed` when set: 422 NotSupported naming it, as upstream.
pub(super) fn one_of(value: &Value, path: &str, allowed: &[&str], errs: &mut Errors) {
    if let Some(v) = value.as_str()
        && !allowed.contains(&v)
    {
        errs.not_supported(path, value, allowed);
    }
}
