//! What kube-apiserver checks of an Event (pkg/apis/core/validation/events.go): the legacy
//! rules every Event passes, and the strict ones of events.k8s.io/v1.

use serde_json::Value;

use super::convert;
use crate::validate::{self, Errors, qualified_name_problem};

/// kube-apiserver's length limits.
const REASON_LIMIT: usize = 128;
const ACTION_LIMIT: usize = 128;
const REPORTING_INSTANCE_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

/// An Event written through core/v1: the legacy rules only, as upstream keeps them for
/// old clients.
pub fn validate_core(obj: &Value, errs: &mut Errors) {
    validate::object_meta(obj, true, false, errs);
    legacy(obj, "reportingComponent", errs);
}

/// An Event written through events.k8s.io/v1 (given in that form): the legacy rules on its
/// core form, then the strict ones — eventTime required, the deprecated fields unset.
pub fn validate_v1(obj: &Value, errs: &mut Errors) {
    let core = convert::to_core(obj.clone());
    validate::object_meta(&core, true, false, errs);
    legacy(&core, "reportingController", errs);
    if let Some(series) = core.get("series").filter(|s| !s.is_null()) {
        if series["count"].as_i64().unwrap_or(0) < 2 {
            errs.invalid("series.count", &"".into(), "should be at least 2");
        }
        if is_unset(&series["lastObservedTime"]) {
            errs.required("series.lastObservedTime");
        }
    }
    if is_unset(&core["eventTime"]) {
        errs.required("eventTime");
    }
    let kind = core["type"].as_str().unwrap_or("");
    if kind != "Normal" && kind != "Warning" {
        errs.invalid("type", &"".into(), &format!("has invalid value: {kind}"));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if !is_unset(&core[field]) {
            errs.invalid(field, &"".into(), "needs to be unset");
        }
    }
    if core["count"].as_i64().unwrap_or(0) != 0 {
        errs.invalid("count", &"".into(), "needs to be unset");
    }
    if !str_of(&core["source"]["component"]).is_empty()
        || !str_of(&core["source"]["host"]).is_empty()
    {
        errs.invalid("source", &"".into(), "needs to be unset");
    }
}

/// The rules every Event passes. An old-style Event (no eventTime) only needs its
/// involvedObject in its own namespace; a new-style one also names its reporter, action and
/// reason, within upstream's limits.
fn legacy(core: &Value, reporting_field: &str, errs: &mut Errors) {
    let namespace = str_of(&core["metadata"]["namespace"]);
    let involved = &core["involvedObject"]["namespace"];
    let involved_ns = str_of(involved);
    let mismatch = if is_unset(&core["eventTime"]) {
        if involved_ns.is_empty() {
            // Cluster-scoped objects' events live in "default" (or nowhere, for old clients).
            !namespace.is_empty() && namespace != "default"
        } else {
            namespace != involved_ns
        }
    } else {
        involved_ns.is_empty() && namespace != "default" && namespace != "kube-system"
    };
    if mismatch {
        errs.invalid(
            "involvedObject.namespace",
            &involved_ns.into(),
            "does not match event.namespace",
        );
    }
    if !is_unset(&core["eventTime"]) {
        let controller = str_of(&core["reportingComponent"]);
        if controller.is_empty() {
            errs.required(reporting_field);
        } else if let Some(problem) = qualified_name_problem(controller) {
            errs.invalid(reporting_field, &controller.into(), &problem);
        }
        required_within(core, "reportingInstance", REPORTING_INSTANCE_LIMIT, errs);
        required_within(core, "action", ACTION_LIMIT, errs);
        required_within(core, "reason", REASON_LIMIT, errs);
        if str_of(&core["message"]).len() > NOTE_LIMIT {
            errs.invalid(
                "message",
                &"".into(),
                &format!("can have at most {NOTE_LIMIT} characters"),
            );
        }
    }
}

fn required_within(core: &Value, field: &str, limit: usize, errs: &mut Errors) {
    let value = str_of(&core[field]);
    if value.is_empty() {
        errs.required(field);
    } else if value.len() > limit {
        errs.invalid(
            field,
            &"".into(),
            &format!("can have at most {limit} characters"),
        );
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn is_unset(v: &Value) -> bool {
    str_of(v).is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(errs: &Errors) -> Vec<(&str, &str)> {
        errs.0
            .iter()
            .map(|c| (c.field.as_str(), c.message.as_str()))
            .collect()
    }

    #[test]
    fn a_core_event_must_be_in_its_objects_namespace() {
        let ev = json!({"metadata": {"name": "p.1", "namespace": "ns1"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns2"},
            "reason": "Started"});
        let mut errs = Errors::default();
        validate_core(&ev, &mut errs);
        assert_eq!(
            fields(&errs),
            [(
                "involvedObject.namespace",
                "Invalid value: \"ns2\": does not match event.namespace"
            )]
        );
        let node_event = json!({"metadata": {"name": "n.1", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": "n"}, "reason": "Starting"});
        let mut errs = Errors::default();
        validate_core(&node_event, &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn an_events_k8s_io_event_needs_event_time_a_reporter_and_no_deprecated_fields() {
        let ev = json!({"metadata": {"name": "p.1", "namespace": "ns1"},
            "regarding": {"kind": "Pod", "name": "p", "namespace": "ns1"},
            "reason": "Scheduled", "type": "Normal", "deprecatedCount": 3});
        let mut errs = Errors::default();
        validate_v1(&ev, &mut errs);
        assert_eq!(
            fields(&errs),
            [
                ("eventTime", "Required value"),
                ("count", "Invalid value: \"\": needs to be unset")
            ]
        );

        let mut ev = ev;
        ev["eventTime"] = json!("2026-12-07T10:00:00.000000Z");
        ev.as_object_mut().unwrap().remove("deprecatedCount");
        ev["reason"] = json!("R".repeat(129));
        let mut errs = Errors::default();
        validate_v1(&ev, &mut errs);
        assert_eq!(
            fields(&errs),
            [
                ("reportingController", "Required value"),
                ("reportingInstance", "Required value"),
                ("action", "Required value"),
                (
                    "reason",
                    "Invalid value: \"\": can have at most 128 characters"
                ),
            ]
        );
    }
}
