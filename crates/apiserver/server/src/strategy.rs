//! What the API server does to an object around a write, per kind: defaults, the status
//! split of the status subresource, and pods' graceful deletion.

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

mod workloads;

/// Fills in type information, defaults and the status a new object starts with.
pub fn prepare_create(rt: &ResourceType, obj: &mut Value) {
    set_type(rt, obj);
    // The uid is the server's to assign, whatever the client sent.
    podnet_apiserver_store::meta::metadata_mut(obj).remove("uid");
    if rt.status && rt.kind != "Node" {
        // A client cannot create an object with a status of its choosing (nodes excepted: the
        // kubelet registers its node with its status).
        obj.as_object_mut()
            .expect("objects are maps")
            .remove("status");
    }
    match rt.kind {
        "Namespace" => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            let name = obj["metadata"]["name"].clone();
            labels_mut(obj).insert("kubernetes.io/metadata.name".into(), name);
        }
        "Pod" => {
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        "Service" => {
            obj["status"] = json!({"loadBalancer": {}});
        }
        "Deployment" | "Ingress" | "ReplicaSet" | "StatefulSet" | "CronJob" => {
            obj["status"] = json!({});
        }
        "Job" => {
            obj["status"] = json!({});
            workloads::job_identity(obj);
        }
        "DaemonSet" => {
            obj["status"] = json!({"currentNumberScheduled": 0, "numberMisscheduled": 0,
                "desiredNumberScheduled": 0, "numberReady": 0});
        }
        _ => {}
    }
    apply_defaults(rt, obj);
}

/// Prepares a write of the main resource: the status is not the client's to change here.
pub fn prepare_update(rt: &ResourceType, old: &Value, new: &mut Value) {
    set_type(rt, new);
    if rt.status && rt.kind != "Node" {
        match old.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                new.as_object_mut()
                    .expect("objects are maps")
                    .remove("status");
            }
        }
    }
    if rt.kind == "Namespace" {
        new["spec"] = old["spec"].clone();
        let name = old["metadata"]["name"].clone();
        labels_mut(new).insert("kubernetes.io/metadata.name".into(), name);
    }
    apply_defaults(rt, new);
}

/// A write through `/status`: the old object with the new status (and the new
/// resourceVersion, which is a precondition).
pub fn prepare_status_update(old: &Value, new: &Value) -> Value {
    let mut out = old.clone();
    out["status"] = new.get("status").cloned().unwrap_or(Value::Null);
    if let Some(rv) = new["metadata"].get("resourceVersion") {
        out["metadata"]["resourceVersion"] = rv.clone();
    } else if let Some(m) = out["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    out
}

/// How long a deletion waits: pods that a node runs get their grace period (the request's,
/// else `spec.terminationGracePeriodSeconds`); an unscheduled or finished pod goes at once.
pub fn deletion_grace(rt: &ResourceType, obj: &Value, requested: Option<i64>) -> Option<i64> {
    if rt.kind != "Pod" {
        return None;
    }
    let scheduled = obj["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        obj["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || finished {
        return Some(0);
    }
    Some(
        requested
            .or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30),
    )
}

pub fn set_type(rt: &ResourceType, obj: &mut Value) {
    let map = obj.as_object_mut().expect("objects are maps");
    map.insert("apiVersion".into(), rt.api_version().into());
    map.insert("kind".into(), rt.kind.into());
}

fn labels_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let meta = podnet_apiserver_store::meta::metadata_mut(obj);
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    labels.as_object_mut().expect("made a map above")
}

/// Sets `obj[key]` when it is missing or null.
fn default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut()
        && map.get(key).is_none_or(Value::is_null)
    {
        map.insert(key.into(), value);
    }
}

fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    if let Some(custom) = rt.custom {
        custom.prune_and_default(obj);
    }
    match rt.kind {
        "CustomResourceDefinition" => crate::crd::defaults(obj),
        "Pod" => pod_spec_defaults(&mut obj["spec"]),
        "Service" => service_defaults(&mut obj["spec"]),
        kind if workloads::KINDS.contains(&kind) => workloads::defaults(kind, obj),
        "Secret" => secret_defaults(obj),
        "NetworkPolicy" => {
            let spec = &mut obj["spec"];
            default(spec, "podSelector", json!({}));
            if spec.get("policyTypes").is_none_or(Value::is_null) {
                let mut types = vec![json!("Ingress")];
                if spec.get("egress").is_some_and(|e| !e.is_null()) {
                    types.push(json!("Egress"));
                }
                spec["policyTypes"] = Value::Array(types);
            }
        }
        _ => {}
    }
}

fn pod_spec_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array_mut().into_iter().flatten() {
            let image = c["image"].as_str().unwrap_or("").to_string();
            let tagged = image
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'))
                || image.contains('@');
            let latest = image.ends_with(":latest") || !tagged;
            default(
                c,
                "imagePullPolicy",
                json!(if latest { "Always" } else { "IfNotPresent" }),
            );
            default(c, "terminationMessagePath", json!("/dev/termination-log"));
            default(c, "terminationMessagePolicy", json!("File"));
            default(c, "resources", json!({}));
            for p in c["ports"].as_array_mut().into_iter().flatten() {
                default(p, "protocol", json!("TCP"));
            }
        }
    }
}

fn service_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    if spec["type"] != "ExternalName" {
        // ipFamilies come with the ClusterIPs, from the cluster's service CIDRs (services.rs).
        default(spec, "internalTrafficPolicy", json!("Cluster"));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    for p in spec["ports"].as_array_mut().into_iter().flatten() {
        default(p, "protocol", json!("TCP"));
        let port = p["port"].clone();
        default(p, "targetPort", port);
    }
}

/// `type` defaults to Opaque; `stringData` is a write-only convenience merged into `data`
/// (its keys win), as upstream's conversion does.
fn secret_defaults(obj: &mut Value) {
    use base64::Engine as _;
    default(obj, "type", json!("Opaque"));
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let Some(Value::Object(strings)) = map.remove("stringData") else {
        return;
    };
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    let data = data.as_object_mut().expect("made a map above");
    for (key, value) in strings {
        let text = value.as_str().unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        data.insert(key, Value::String(encoded));
    }
}
