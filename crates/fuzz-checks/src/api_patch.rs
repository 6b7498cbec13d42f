//! A PATCH body of every kind (JSON patch, merge patch, strategic merge patch, server-side
//! apply) onto a live Pod, as the lab API server applies them: nothing panics; a merge patch
//! is idempotent (applying it twice gives what applying it once gave); applying a config
//! twice by the same manager changes nothing the second time.

use std::sync::LazyLock;

use podnet_apiserver::patch::{
    apply, duplicate_entries, json_patch, merge_patch, strategic_merge_patch,
};
use podnet_apiserver::resources::ResourceType;
use serde_json::{Value, json};

static LIVE: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-0",
            "namespace": "default",
            "labels": {"app": "web"},
            "managedFields": [{
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                             "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}}},
            }],
        },
        "spec": {
            "containers": [
                {"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "busybox"},
            ],
            "tolerations": [{"key": "k", "operator": "Exists"}],
        },
        "status": {"podIPs": [{"ip": "10.244.1.5"}]},
    })
});

/// One input; panics on what the input must not break.
pub fn api_patch(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 4 {
        0 => {
            let Ok(ops) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let mut target = LIVE.clone();
            let _ = json_patch(&mut target, &ops);
        }
        1 => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let mut once = LIVE.clone();
            merge_patch(&mut once, &patch);
            let mut twice = once.clone();
            merge_patch(&mut twice, &patch);
            assert_eq!(twice, once, "a merge patch is idempotent");
        }
        2 => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return;
            };
            let mut target = LIVE.clone();
            let _ = strategic_merge_patch(&mut target, &patch);
        }
        _ => {
            let Ok(config) = serde_yaml_ng::from_slice::<Value>(body) else {
                return;
            };
            if !is_a_pod(&config) {
                return;
            }
            let force = body.len() % 2 == 0;
            if let Ok(once) = apply(Some(&LIVE), &config, "fuzz", force, "v1") {
                let twice = apply(Some(&once), &config, "fuzz", false, "v1")
                    .expect("re-applying one's own config cannot conflict");
                assert_eq!(
                    strip_time(twice),
                    strip_time(once),
                    "re-applying changes nothing"
                );
            }
            let _ = apply(None, &config, "fuzz", force, "v1");
        }
    }
}

/// What the server accepts to apply, as kubectl sends it (`fieldValidation=Strict`, which is
/// also what upstream's typed conversion enforces for every apply): a Pod (the URL's kind)
/// that decodes as one with no field its schema does not declare, and each list element
/// named once.
fn is_a_pod(config: &Value) -> bool {
    let pod = ResourceType::by_kind("v1", "Pod").expect("the server serves Pods");
    config["apiVersion"] == "v1"
        && config["kind"] == "Pod"
        && (pod.decode)(config).is_ok_and(|typed| declared(config, &typed))
        && duplicate_entries(config).is_none()
}

/// Whether every field `given` sets is in `typed` (its decoded and re-encoded form).
fn declared(given: &Value, typed: &Value) -> bool {
    match (given, typed) {
        (Value::Object(g), Value::Object(t)) => g
            .iter()
            .all(|(k, v)| v.is_null() || t.get(k).is_some_and(|tv| declared(v, tv))),
        (Value::Object(g), _) => g.values().all(Value::is_null),
        (Value::Array(g), Value::Array(t)) => {
            g.len() == t.len() && g.iter().zip(t).all(|(gv, tv)| declared(gv, tv))
        }
        _ => true,
    }
}

/// managedFields carry the time of the apply.
fn strip_time(mut obj: Value) -> Value {
    if let Some(entries) = obj["metadata"]["managedFields"].as_array_mut() {
        for e in entries {
            if let Some(e) = e.as_object_mut() {
                e.remove("time");
            }
        }
    }
    obj
}
