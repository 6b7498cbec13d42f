//! The scale subresource of a custom resource: an autoscaling/v1 Scale over the paths its
//! CRD names (specReplicasPath, statusReplicasPath, labelSelectorPath).

use serde_json::{Value, json};

use super::path;

pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

// === impl ScalePaths ===

impl ScalePaths {
    pub fn from_crd(scale: &Value) -> Option<Self> {
        Some(ScalePaths {
            spec_replicas: scale["specReplicasPath"].as_str()?.to_string(),
            status_replicas: scale["statusReplicasPath"].as_str()?.to_string(),
            label_selector: scale["labelSelectorPath"].as_str().map(str::to_string),
        })
    }

    /// The Scale view of `obj`.
    pub fn view(&self, obj: &Value) -> Value {
        let number = |p: &str| path::lookup(obj, p).and_then(Value::as_i64).unwrap_or(0);
        let m = &obj["metadata"];
        let mut status = json!({"replicas": number(&self.status_replicas)});
        if let Some(selector) = self
            .label_selector
            .as_deref()
            .and_then(|p| path::lookup(obj, p))
            .and_then(Value::as_str)
        {
            status["selector"] = selector.into();
        }
        json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
                "resourceVersion": m["resourceVersion"],
                "creationTimestamp": m["creationTimestamp"]},
            "spec": {"replicas": number(&self.spec_replicas)},
            "status": status,
        })
    }

    /// `obj` with the replicas a Scale asks for.
    pub fn set_replicas(&self, obj: &mut Value, replicas: Value) {
        path::set(obj, &self.spec_replicas, replicas);
    }
}
