//! A PATCH body of every kind (JSON patch, merge patch, strategic merge patch, server-side
//! apply) onto a live Pod, as the lab API server applies them: nothing panics; a merge patch
//! is idempotent (applying it twice gives what applying it once gave); applying a config
//! twice by the same manager changes nothing the second time.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use podnet_apiserver::patch::{apply, json_patch, merge_patch, strategic_merge_patch};
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

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 4 {
        0 => {
            let Ok(ops) = serde_json::from_slice::<Value>(body) else { return };
            let mut target = LIVE.clone();
            let _ = json_patch(&mut target, &ops);
        }
        1 => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else { return };
            let mut once = LIVE.clone();
            merge_patch(&mut once, &patch);
            let mut twice = once.clone();
            merge_patch(&mut twice, &patch);
            assert_eq!(twice, once, "a merge patch is idempotent");
        }
        2 => {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else { return };
            let mut target = LIVE.clone();
            let _ = strategic_merge_patch(&mut target, &patch);
        }
        _ => {
            let Ok(config) = serde_yaml_ng::from_slice::<Value>(body) else { return };
            let force = body.len() % 2 == 0;
            if let Ok(once) = apply(Some(&LIVE), &config, "fuzz", force, "v1") {
                let twice = apply(Some(&once), &config, "fuzz", false, "v1")
                    .expect("re-applying one's own config cannot conflict");
                assert_eq!(strip_time(twice), strip_time(once), "re-applying changes nothing");
            }
            let _ = apply(None, &config, "fuzz", force, "v1");
        }
    }
});

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
