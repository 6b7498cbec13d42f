//! core/v1 Event ↔ events.k8s.io/v1 Event, as kube-apiserver converts them through its
//! internal form (pkg/apis/events/v1): the two share every field, some under other names.

use serde_json::{Map, Value};

/// (core/v1 name, events.k8s.io/v1 name) of the fields the two versions name differently.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// A core/v1 Event (as stored) in its events.k8s.io/v1 form.
pub fn to_events_v1(core: &Value) -> Value {
    let mut out = rename(core, |field| {
        RENAMED.iter().find(|(c, _)| *c == field).map(|(_, v1)| *v1)
    });
    set_type(&mut out, "events.k8s.io/v1");
    out
}

/// An events.k8s.io/v1 Event in its core/v1 form (the stored one).
pub fn to_core(v1: Value) -> Value {
    let mut out = rename(&v1, |field| {
        RENAMED
            .iter()
            .find(|(_, v)| *v == field)
            .map(|(core, _)| *core)
    });
    set_type(&mut out, "v1");
    out
}

/// An events.k8s.io/v1 field-selector label → the core/v1 label it means (kube-apiserver's
/// field label conversion for events.k8s.io/v1 Events).
pub fn core_label(label: &str) -> &str {
    match label.strip_prefix("regarding.") {
        Some(rest) => match rest {
            "kind" => "involvedObject.kind",
            "namespace" => "involvedObject.namespace",
            "name" => "involvedObject.name",
            "uid" => "involvedObject.uid",
            "apiVersion" => "involvedObject.apiVersion",
            "resourceVersion" => "involvedObject.resourceVersion",
            "fieldPath" => "involvedObject.fieldPath",
            _ => label,
        },
        None if label == "reportingController" => "reportingComponent",
        None => label,
    }
}

fn rename(obj: &Value, renamed: impl Fn(&str) -> Option<&'static str>) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let out: Map<String, Value> = map
        .iter()
        .map(|(k, v)| {
            (
                renamed(k).map_or_else(|| k.clone(), str::to_string),
                v.clone(),
            )
        })
        .collect();
    Value::Object(out)
}

fn set_type(obj: &mut Value, api_version: &str) {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), "Event".into());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The kubelet's kind of event: written through core/v1 with count and timestamps.
    fn core_event() -> Value {
        json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-1.17f0a1b2c3d4e5f6", "namespace": "ns1"},
            "involvedObject": {"kind": "Pod", "namespace": "ns1", "name": "web-1",
                "uid": "u1", "apiVersion": "v1", "fieldPath": "spec.containers{c}"},
            "reason": "Unhealthy", "message": "Readiness probe failed: HTTP 500",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-12-07T10:00:00Z", "lastTimestamp": "2026-12-07T10:01:00Z",
            "count": 7, "type": "Warning", "eventTime": null,
            "reportingComponent": "kubelet", "reportingInstance": "node-1"})
    }

    /// The scheduler's kind: written through events.k8s.io/v1 with eventTime and a series.
    fn v1_event() -> Value {
        json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web-1.17f0a1b2c3d4e5f7", "namespace": "ns1"},
            "eventTime": "2026-12-07T10:00:00.123456Z",
            "series": {"count": 2, "lastObservedTime": "2026-12-07T10:02:00.000000Z"},
            "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-lab",
            "action": "Binding", "reason": "Scheduled",
            "regarding": {"kind": "Pod", "namespace": "ns1", "name": "web-1"},
            "related": {"kind": "Node", "name": "node-1"},
            "note": "Successfully assigned ns1/web-1 to node-1", "type": "Normal"})
    }

    #[test]
    fn a_core_event_read_through_events_k8s_io_has_the_new_names() {
        let v1 = to_events_v1(&core_event());
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "web-1");
        assert_eq!(v1["regarding"]["fieldPath"], "spec.containers{c}");
        assert_eq!(v1["note"], "Readiness probe failed: HTTP 500");
        assert_eq!(v1["deprecatedSource"]["host"], "node-1");
        assert_eq!(v1["deprecatedCount"], 7);
        assert_eq!(v1["deprecatedFirstTimestamp"], "2026-12-07T10:00:00Z");
        assert_eq!(v1["deprecatedLastTimestamp"], "2026-12-07T10:01:00Z");
        assert_eq!(v1["reportingController"], "kubelet");
        assert_eq!(v1["reportingInstance"], "node-1");
        for old in [
            "involvedObject",
            "message",
            "source",
            "count",
            "reportingComponent",
        ] {
            assert!(
                v1.get(old).is_none(),
                "{old} is not an events.k8s.io/v1 field"
            );
        }
    }

    #[test]
    fn an_events_k8s_io_event_read_through_core_v1_has_the_old_names() {
        let core = to_core(v1_event());
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web-1");
        assert_eq!(core["message"], "Successfully assigned ns1/web-1 to node-1");
        assert_eq!(core["reportingComponent"], "default-scheduler");
        assert_eq!(core["series"]["count"], 2);
        assert_eq!(core["related"]["name"], "node-1");
        assert_eq!(core["action"], "Binding");
        assert_eq!(core["eventTime"], "2026-12-07T10:00:00.123456Z");
    }

    #[test]
    fn both_directions_round_trip() {
        assert_eq!(to_core(to_events_v1(&core_event())), core_event());
        assert_eq!(to_events_v1(&to_core(v1_event())), v1_event());
    }

    #[test]
    fn events_k8s_io_selector_labels_read_the_core_fields() {
        assert_eq!(core_label("regarding.name"), "involvedObject.name");
        assert_eq!(core_label("regarding.uid"), "involvedObject.uid");
        assert_eq!(core_label("reportingController"), "reportingComponent");
        assert_eq!(core_label("reason"), "reason");
        assert_eq!(core_label("metadata.name"), "metadata.name");
    }
}
