//! The workload kinds' rows (kubectl's printDeployment, printReplicaSet, …).

use serde_json::{Value, json};

use super::{age, human_duration, name, or_none, selector_text, strs};

pub(super) fn deployment(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let mut row = vec![
        name(obj),
        format!(
            "{}/{}",
            count(&status["readyReplicas"]),
            count(&spec["replicas"])
        )
        .into(),
        json!(count(&status["updatedReplicas"])),
        json!(count(&status["availableReplicas"])),
        age(obj, now),
    ];
    row.extend(wide(spec));
    row
}

pub(super) fn replica_set(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let mut row = vec![
        name(obj),
        json!(count(&spec["replicas"])),
        json!(count(&status["replicas"])),
        json!(count(&status["readyReplicas"])),
        age(obj, now),
    ];
    row.extend(wide(spec));
    row
}

pub(super) fn daemon_set(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let mut row = vec![name(obj)];
    for key in [
        "desiredNumberScheduled",
        "currentNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
    ] {
        row.push(json!(count(&status[key])));
    }
    row.push(or_none(selector_text(
        &spec["template"]["spec"]["nodeSelector"],
    )));
    row.push(age(obj, now));
    row.extend(wide(spec));
    row
}

pub(super) fn stateful_set(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let ready = format!(
        "{}/{}",
        count(&obj["status"]["readyReplicas"]),
        count(&spec["replicas"])
    );
    let [containers, images, _] = wide(spec);
    vec![name(obj), ready.into(), age(obj, now), containers, images]
}

pub(super) fn job(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let has = |type_: &str| {
        status["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == type_ && c["status"] == "True")
    };
    let state = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if !obj["metadata"]["deletionTimestamp"].is_null() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = count(&status["succeeded"]);
    let completions = match spec["completions"].as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None if count(&spec["parallelism"]) > 1 => {
            format!("{succeeded}/1 of {}", count(&spec["parallelism"]))
        }
        None => format!("{succeeded}/1"),
    };
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let duration = match (time(&status["startTime"]), time(&status["completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.duration_since(start).as_secs()),
        (Some(start), Some(end)) => human_duration(end.duration_since(start).as_secs()),
    };
    let mut row = vec![
        name(obj),
        state.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
    ];
    row.extend(wide(spec));
    row
}

/// SUSPEND is `<unset>` without the field (kubectl's printBoolPtr); LAST SCHEDULE an age.
pub(super) fn cron_job(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let status = &obj["status"];
    let suspend = match spec["suspend"].as_bool() {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = status["lastScheduleTime"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or("<none>".into(), |t| {
            human_duration(now.duration_since(t).as_secs())
        });
    let mut row = vec![
        name(obj),
        spec["schedule"].clone(),
        or_none(spec["timeZone"].as_str().unwrap_or("").into()),
        suspend.into(),
        json!(status["active"].as_array().map_or(0, Vec::len)),
        last.into(),
        age(obj, now),
    ];
    row.extend(wide(&spec["jobTemplate"]["spec"]));
    row
}

/// CONTROLLER is the controlling owner as `kind.group/name` (`daemonset.apps/fluentd`).
pub(super) fn controller_revision(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let controller = obj["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["controller"] == true)
        .map(|o| {
            let group = o["apiVersion"].as_str().unwrap_or("").rsplit_once('/');
            let kind = o["kind"].as_str().unwrap_or("").to_lowercase();
            let name = o["name"].as_str().unwrap_or("");
            match group {
                Some((group, _)) => format!("{kind}.{group}/{name}"),
                None => format!("{kind}/{name}"),
            }
        })
        .unwrap_or_default();
    vec![
        name(obj),
        or_none(controller),
        json!(count(&obj["revision"])),
        age(obj, now),
    ]
}

fn count(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// `-o wide`'s CONTAINERS, IMAGES and SELECTOR of a kind with a pod template.
fn wide(spec: &Value) -> [Value; 3] {
    let containers = &spec["template"]["spec"]["containers"];
    let field = |key: &str| -> Vec<&str> {
        containers
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c[key].as_str())
            .collect()
    };
    [
        field("name").join(",").into(),
        field("image").join(",").into(),
        or_none(label_selector_text(&spec["selector"])),
    ]
}

/// A metav1.LabelSelector as `metav1.FormatLabelSelector` prints it.
fn label_selector_text(selector: &Value) -> String {
    let mut sel = selector_text(&selector["matchLabels"]);
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let values: Vec<&str> = strs(&e["values"]).collect();
        let key = e["key"].as_str().unwrap_or("");
        let part = match e["operator"].as_str() {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        };
        if !sel.is_empty() {
            sel.push(',');
        }
        sel.push_str(&part);
    }
    sel
}
