//! One printer per kind, as kubectl's built-in printers (pkg/printers/internalversion).

use serde_json::{Value, json};

use super::{Column, human_duration};

mod networking;
mod workloads;

type Cells = fn(&Value, jiff::Timestamp) -> Vec<Value>;

const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column {
        name,
        kind,
        priority,
    }
}

pub const NAME: Column = col("Name", "string", 0);
const AGE: Column = col("Age", "string", 0);

pub fn printer(kind: &str) -> (Vec<Column>, Cells) {
    match kind {
        "Pod" => (
            vec![
                NAME,
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                AGE,
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ],
            pod,
        ),
        "Service" => (
            vec![
                NAME,
                col("Type", "string", 0),
                col("Cluster-IP", "string", 0),
                col("External-IP", "string", 0),
                col("Port(s)", "string", 0),
                AGE,
                col("Selector", "string", 1),
            ],
            service,
        ),
        "Deployment" => (
            vec![
                NAME,
                col("Ready", "string", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            workloads::deployment,
        ),
        "ReplicaSet" => (
            vec![
                NAME,
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            workloads::replica_set,
        ),
        "DaemonSet" => (
            vec![
                NAME,
                col("Desired", "integer", 0),
                col("Current", "integer", 0),
                col("Ready", "integer", 0),
                col("Up-to-date", "integer", 0),
                col("Available", "integer", 0),
                col("Node Selector", "string", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            workloads::daemon_set,
        ),
        "StatefulSet" => (
            vec![
                NAME,
                col("Ready", "string", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
            ],
            workloads::stateful_set,
        ),
        "Job" => (
            vec![
                NAME,
                col("Status", "string", 0),
                col("Completions", "string", 0),
                col("Duration", "string", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            workloads::job,
        ),
        "CronJob" => (
            vec![
                NAME,
                col("Schedule", "string", 0),
                col("Timezone", "string", 0),
                col("Suspend", "boolean", 0),
                col("Active", "integer", 0),
                col("Last Schedule", "string", 0),
                AGE,
                col("Containers", "string", 1),
                col("Images", "string", 1),
                col("Selector", "string", 1),
            ],
            workloads::cron_job,
        ),
        "ControllerRevision" => (
            vec![
                NAME,
                col("Controller", "string", 0),
                col("Revision", "integer", 0),
                AGE,
            ],
            workloads::controller_revision,
        ),
        "Node" => (
            vec![
                NAME,
                col("Status", "string", 0),
                col("Roles", "string", 0),
                AGE,
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ],
            node,
        ),
        "EndpointSlice" => (
            vec![
                NAME,
                col("AddressType", "string", 0),
                col("Ports", "string", 0),
                col("Endpoints", "string", 0),
                AGE,
            ],
            endpoint_slice,
        ),
        "Namespace" => (vec![NAME, col("Status", "string", 0), AGE], namespace),
        "ConfigMap" => (vec![NAME, col("Data", "integer", 0), AGE], config_map),
        // Upstream's default table for kinds without a printer: the creation time itself.
        "CustomResourceDefinition" => (vec![NAME, col("Created At", "date", 0)], created_at),
        "Secret" => (
            vec![
                NAME,
                col("Type", "string", 0),
                col("Data", "integer", 0),
                AGE,
            ],
            secret,
        ),
        "Role" | "ClusterRole" => (vec![NAME, col("Created At", "date", 0)], role),
        "RoleBinding" | "ClusterRoleBinding" => (
            vec![
                NAME,
                col("Role", "string", 0),
                AGE,
                col("Users", "string", 1),
                col("Groups", "string", 1),
                col("ServiceAccounts", "string", 1),
            ],
            role_binding,
        ),
        "ServiceAccount" => (
            vec![NAME, col("Secrets", "integer", 0), AGE],
            service_account,
        ),
        "Event" => (crate::events::print::columns(), crate::events::print::cells),
        "Ingress" => (
            vec![
                NAME,
                col("Class", "string", 0),
                col("Hosts", "string", 0),
                col("Address", "string", 0),
                col("Ports", "string", 0),
                AGE,
            ],
            networking::ingress,
        ),
        "IngressClass" => (
            vec![
                NAME,
                col("Controller", "string", 0),
                col("Parameters", "string", 0),
                AGE,
            ],
            networking::ingress_class,
        ),
        _ => (vec![NAME, AGE], generic),
    }
}

fn created_at(obj: &Value, _: jiff::Timestamp) -> Vec<Value> {
    vec![name(obj), obj["metadata"]["creationTimestamp"].clone()]
}

fn name(obj: &Value) -> Value {
    obj["metadata"]["name"].clone()
}

fn age(obj: &Value, now: jiff::Timestamp) -> Value {
    let created = obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match created {
        Some(t) => human_duration(now.duration_since(t).as_secs()).into(),
        None => "<unknown>".into(),
    }
}

fn or_none(s: String) -> Value {
    if s.is_empty() {
        "<none>".into()
    } else {
        s.into()
    }
}

fn strs(v: &Value) -> impl Iterator<Item = &str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str)
}

fn generic(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![name(obj), age(obj, now)]
}

fn namespace(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    vec![name(obj), obj["status"]["phase"].clone(), age(obj, now)]
}

fn config_map(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let count = ["data", "binaryData"]
        .iter()
        .map(|k| obj[*k].as_object().map_or(0, |m| m.len()))
        .sum::<usize>();
    vec![name(obj), json!(count), age(obj, now)]
}

fn secret(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let count = obj["data"].as_object().map_or(0, |m| m.len());
    vec![name(obj), obj["type"].clone(), json!(count), age(obj, now)]
}

fn service_account(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let count = obj["secrets"].as_array().map_or(0, Vec::len);
    vec![name(obj), json!(count), age(obj, now)]
}

fn role(obj: &Value, _now: jiff::Timestamp) -> Vec<Value> {
    vec![name(obj), obj["metadata"]["creationTimestamp"].clone()]
}

fn role_binding(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        obj["roleRef"]["kind"].as_str().unwrap_or(""),
        obj["roleRef"]["name"].as_str().unwrap_or("")
    );
    let subjects = |kind: &str| {
        let names: Vec<String> = obj["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["kind"] == kind)
            .map(|s| match (kind, s["namespace"].as_str()) {
                ("ServiceAccount", Some(ns)) => {
                    format!("{ns}/{}", s["name"].as_str().unwrap_or(""))
                }
                _ => s["name"].as_str().unwrap_or("").to_string(),
            })
            .collect();
        json!(names.join(", "))
    };
    vec![
        name(obj),
        json!(role),
        age(obj, now),
        subjects("User"),
        subjects("Group"),
        subjects("ServiceAccount"),
    ]
}

/// The STATUS column: the phase, refined by the pod's and its containers' reasons.
fn pod_status(obj: &Value) -> String {
    let status = &obj["status"];
    let mut reason = status["reason"]
        .as_str()
        .or(status["phase"].as_str())
        .unwrap_or("Pending")
        .to_string();
    for c in status["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
    {
        let state = &c["state"];
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        } else if let Some(r) = state["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        }
    }
    if obj["metadata"]["deletionTimestamp"].is_string() {
        reason = if status["reason"] == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

fn pod(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let total = obj["spec"]["containers"].as_array().map_or(0, Vec::len);
    let statuses = obj["status"]["containerStatuses"].as_array();
    let ready = statuses
        .into_iter()
        .flatten()
        .filter(|c| c["ready"] == true)
        .count();
    let restarts: i64 = statuses
        .into_iter()
        .flatten()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let gates = obj["spec"]["readinessGates"].as_array().map_or(0, Vec::len);
    let gates_cell = if gates == 0 {
        "<none>".to_string()
    } else {
        let true_conditions = obj["spec"]["readinessGates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|g| {
                strs_conditions(obj)
                    .any(|(t, s)| Some(t) == g["conditionType"].as_str() && s == "True")
            })
            .count();
        format!("{true_conditions}/{gates}")
    };
    vec![
        name(obj),
        format!("{ready}/{total}").into(),
        pod_status(obj).into(),
        restarts.to_string().into(),
        age(obj, now),
        or_none(obj["status"]["podIP"].as_str().unwrap_or("").into()),
        or_none(obj["spec"]["nodeName"].as_str().unwrap_or("").into()),
        or_none(
            obj["status"]["nominatedNodeName"]
                .as_str()
                .unwrap_or("")
                .into(),
        ),
        gates_cell.into(),
    ]
}

fn strs_conditions(obj: &Value) -> impl Iterator<Item = (&str, &str)> {
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap_or(""),
            )
        })
}

fn selector_text(map: &Value) -> String {
    map.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(",")
}

fn service(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    let mut external: Vec<String> = strs(&spec["externalIPs"]).map(str::to_string).collect();
    let ingress: Vec<String> = obj["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .or(i["hostname"].as_str())
                .map(str::to_string)
        })
        .collect();
    let external_cell = match kind {
        "ExternalName" => spec["externalName"].as_str().unwrap_or("").to_string(),
        "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".into(),
        "LoadBalancer" => {
            external.extend(ingress);
            external.join(",")
        }
        _ if external.is_empty() => "<none>".into(),
        _ => external.join(","),
    };
    let ports: Vec<String> = spec["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n != 0) {
                Some(node) => format!("{}:{node}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    vec![
        name(obj),
        kind.into(),
        or_none(spec["clusterIP"].as_str().unwrap_or("").into()),
        external_cell.into(),
        or_none(ports.join(",")),
        age(obj, now),
        or_none(selector_text(&spec["selector"])),
    ]
}

fn node(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let status = &obj["status"];
    let mut state = match strs_conditions(obj).find(|(t, _)| *t == "Ready") {
        Some((_, "True")) => "Ready".to_string(),
        Some((_, "False")) => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if obj["spec"]["unschedulable"] == true {
        state.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<&str> = obj["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .filter(|r| !r.is_empty())
        .collect();
    roles.sort();
    let address = |t: &str| -> Value {
        or_none(
            status["addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["type"] == t)
                .and_then(|a| a["address"].as_str())
                .unwrap_or("")
                .into(),
        )
    };
    let info = &status["nodeInfo"];
    let text = |v: &Value| -> Value { or_none(v.as_str().unwrap_or("").into()) };
    vec![
        name(obj),
        state.into(),
        or_none(roles.join(",")),
        age(obj, now),
        info["kubeletVersion"].as_str().unwrap_or("").into(),
        address("InternalIP"),
        address("ExternalIP"),
        text(&info["osImage"]),
        text(&info["kernelVersion"]),
        text(&info["containerRuntimeVersion"]),
    ]
}

fn endpoint_slice(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let ports: Vec<String> = obj["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            p["port"]
                .as_i64()
                .map_or("<unset>".to_string(), |n| n.to_string())
        })
        .collect();
    let addresses: Vec<&str> = obj["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| strs(&e["addresses"]))
        .collect();
    let endpoints = match addresses.len() {
        0 => "<none>".to_string(),
        n if n > 3 => format!("{} + {} more...", addresses[..3].join(","), n - 3),
        _ => addresses.join(","),
    };
    vec![
        name(obj),
        obj["addressType"].clone(),
        if ports.is_empty() {
            "<unset>".into()
        } else {
            ports.join(",").into()
        },
        endpoints.into(),
        age(obj, now),
    ]
}
