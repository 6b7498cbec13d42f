//! `kubectl get events`' columns, as kube-apiserver's printer for Events (printEvent in
//! pkg/printers/internalversion): one printer for both API versions, over the stored form.

use serde_json::Value;

use crate::table::{Column, human_duration};

const fn col(name: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind: "string",
        priority,
    }
}

pub fn columns() -> Vec<Column> {
    vec![
        col("Last Seen", 0),
        col("Type", 0),
        col("Reason", 0),
        col("Object", 0),
        col("Subobject", 1),
        col("Source", 1),
        col("Message", 0),
        col("First Seen", 1),
        Column {
            kind: "integer",
            ..col("Count", 1)
        },
        col("Name", 1),
    ]
}

/// One row: an event written the old way shows firstTimestamp/lastTimestamp/count; one
/// written through events.k8s.io shows eventTime and its series.
pub fn cells(ev: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let since = |field: &Value| -> Option<String> {
        let at: jiff::Timestamp = field.as_str()?.parse().ok()?;
        Some(human_duration(now.duration_since(at).as_secs()))
    };
    let unknown = || "<unknown>".to_string();
    let first = since(&ev["firstTimestamp"])
        .or_else(|| since(&ev["eventTime"]))
        .unwrap_or_else(unknown);
    let mut last = since(&ev["lastTimestamp"]).unwrap_or_else(|| first.clone());
    let mut count = ev["count"].as_i64().unwrap_or(0);
    if ev["series"].is_object() {
        last = since(&ev["series"]["lastObservedTime"]).unwrap_or_else(unknown);
        count = ev["series"]["count"].as_i64().unwrap_or(0);
    } else if count == 0 {
        // A singleton event of the new API has no count.
        count = 1;
    }
    let involved = &ev["involvedObject"];
    let kind = str_of(&involved["kind"]).to_lowercase();
    let target = match str_of(&involved["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    vec![
        last.into(),
        ev["type"].as_str().unwrap_or("").into(),
        ev["reason"].as_str().unwrap_or("").into(),
        target.into(),
        involved["fieldPath"].as_str().unwrap_or("").into(),
        source(ev).into(),
        str_of(&ev["message"]).trim().into(),
        first.into(),
        count.into(),
        ev["metadata"]["name"].clone(),
    ]
}

/// `component, host`, each falling back to the new API's reporter fields.
pub fn source(ev: &Value) -> String {
    let or = |a: &'static str, b: &'static str| {
        let first = str_of(&ev["source"][a]);
        if first.is_empty() {
            str_of(&ev[b]).to_string()
        } else {
            first.to_string()
        }
    };
    let component = or("component", "reportingComponent");
    match or("host", "reportingInstance") {
        instance if instance.is_empty() => component,
        instance => format!("{component}, {instance}"),
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_old_style_event_shows_its_count_and_timestamps() {
        let now: jiff::Timestamp = "2026-12-07T10:10:00Z".parse().unwrap();
        let ev = json!({"metadata": {"name": "web-1.abc"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{c}"},
            "reason": "Unhealthy", "message": "Readiness probe failed: x\n", "type": "Warning",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-12-07T10:00:00Z", "lastTimestamp": "2026-12-07T10:09:00Z",
            "count": 12});
        assert_eq!(
            cells(&ev, now),
            [
                json!("60s"),
                json!("Warning"),
                json!("Unhealthy"),
                json!("pod/web-1"),
                json!("spec.containers{c}"),
                json!("kubelet, node-1"),
                json!("Readiness probe failed: x"),
                json!("10m"),
                json!(12),
                json!("web-1.abc")
            ]
        );
    }

    #[test]
    fn a_new_style_event_shows_its_series_and_reporter() {
        let now: jiff::Timestamp = "2026-12-07T10:10:00Z".parse().unwrap();
        let ev = json!({"metadata": {"name": "web-1.abd"},
            "involvedObject": {"kind": "Pod", "name": "web-1"}, "reason": "Scheduled",
            "eventTime": "2026-12-07T10:00:00.000000Z", "reportingComponent": "default-scheduler",
            "series": {"count": 3, "lastObservedTime": "2026-12-07T10:09:30.000000Z"}});
        let row = cells(&ev, now);
        assert_eq!(row[0], "30s");
        assert_eq!(row[5], "default-scheduler");
        assert_eq!(row[7], "10m");
        assert_eq!(row[8], 3);
        let single =
            json!({"involvedObject": {"kind": "Node"}, "eventTime": "2026-12-07T10:00:00Z"});
        let row = cells(&single, now);
        assert_eq!(
            (row[0].clone(), row[3].clone(), row[8].clone()),
            (json!("10m"), json!("node"), json!(1))
        );
    }
}
