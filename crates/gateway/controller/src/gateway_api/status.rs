//! Status writes for Gateway API objects: whole `status` values computed by the build,
//! written only when they differ from what the object holds (ignoring condition times, and
//! keeping the time of a condition whose status did not change).

use serde_json::{Value, json};

/// One object's desired status.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusPatch {
    /// The plural resource name (`gateways`, `httproutes`, `gatewayclasses`).
    pub resource: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub status: Value,
}

impl StatusPatch {
    pub fn namespaced(resource: &'static str, namespace: &str, name: &str, status: Value) -> Self {
        StatusPatch {
            resource,
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            status,
        }
    }

    pub fn cluster(resource: &'static str, name: &str, status: Value) -> Self {
        StatusPatch {
            resource,
            namespace: None,
            name: name.to_owned(),
            status,
        }
    }
}

pub(super) fn condition(
    kind: &str,
    ok: bool,
    reason: &str,
    message: &str,
    generation: i64,
) -> Value {
    json!({
        "type": kind,
        "status": if ok { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
    })
}

fn without_times(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| k.as_str() != "lastTransitionTime")
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

/// Whether `desired` differs from the object's `current` status beyond condition times.
pub fn changed(current: &Value, desired: &Value) -> bool {
    without_times(current) != without_times(desired)
}
