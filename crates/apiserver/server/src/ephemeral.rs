//! `pods/ephemeralcontainers` (GET, PATCH, PUT): the pod as seen through the subresource,
//! of which only `spec.ephemeralContainers` is written, as kube-apiserver's
//! `EphemeralContainersREST`. Containers can be added, never changed or removed, and a
//! name may not repeat one of the pod's containers.

use serde_json::Value;

use crate::error::ApiError;
use crate::validate::Cause;

/// What is stored when `new` is written through the subresource over `old`.
pub fn prepare_update(old: &Value, new: &Value) -> Result<Value, ApiError> {
    let list = |pod: &Value| -> Vec<Value> {
        pod["spec"]["ephemeralContainers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let (before, after) = (list(old), list(new));
    let name = |c: &Value| c["name"].as_str().unwrap_or("").to_owned();
    let mut causes = Vec::new();
    for (i, existing) in before.iter().enumerate() {
        match after.iter().find(|c| name(c) == name(existing)) {
            Some(c) if c == existing => {}
            Some(_) | None => causes.push(Cause {
                reason: "FieldValueForbidden",
                message: format!(
                    "Forbidden: existing ephemeral containers \"{}\" may not be changed",
                    name(existing)
                ),
                field: format!("spec.ephemeralContainers[{i}]"),
            }),
        }
    }
    let taken: Vec<String> = ["containers", "initContainers"]
        .iter()
        .flat_map(|f| old["spec"][*f].as_array().cloned().unwrap_or_default())
        .map(|c| name(&c))
        .collect();
    for (i, c) in after.iter().enumerate() {
        if name(c).is_empty() {
            causes.push(Cause {
                reason: "FieldValueRequired",
                message: "Required value".into(),
                field: format!("spec.ephemeralContainers[{i}].name"),
            });
        } else if taken.contains(&name(c)) || after[..i].iter().any(|other| name(other) == name(c))
        {
            causes.push(Cause {
                reason: "FieldValueDuplicate",
                message: format!("Duplicate value: \"{}\"", name(c)),
                field: format!("spec.ephemeralContainers[{i}].name"),
            });
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::Invalid {
            group: "",
            kind: "Pod",
            name: old["metadata"]["name"].as_str().unwrap_or("").to_owned(),
            causes,
        });
    }
    let mut out = old.clone();
    out["spec"]["ephemeralContainers"] = Value::Array(after);
    match new["metadata"].get("resourceVersion") {
        Some(rv) => out["metadata"]["resourceVersion"] = rv.clone(),
        None => {
            if let Some(m) = out["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ephemeral: Value) -> Value {
        json!({"metadata": {"name": "web", "resourceVersion": "5"},
               "spec": {"containers": [{"name": "app"}], "ephemeralContainers": ephemeral},
               "status": {"phase": "Running"}})
    }

    #[test]
    fn only_ephemeral_containers_are_written_and_only_added() {
        let old = pod(json!([{"name": "debugger-1", "image": "busybox"}]));
        let mut new = pod(json!([{"name": "debugger-1", "image": "busybox"},
                                 {"name": "debugger-2", "image": "busybox"}]));
        new["spec"]["containers"] = json!([{"name": "changed"}]);
        new["status"] = json!({"phase": "Failed"});
        let out = prepare_update(&old, &new).unwrap();
        assert_eq!(
            out["spec"]["ephemeralContainers"].as_array().unwrap().len(),
            2
        );
        assert_eq!(out["spec"]["containers"], old["spec"]["containers"]);
        assert_eq!(out["status"], old["status"]);

        let removed = pod(json!([]));
        let err = prepare_update(&old, &removed).unwrap_err();
        assert!(
            err.to_string()
                .contains("existing ephemeral containers \"debugger-1\" may not be changed"),
            "{err}"
        );
        let clash = pod(json!([{"name": "debugger-1", "image": "busybox"}, {"name": "app"}]));
        assert!(
            prepare_update(&old, &clash)
                .unwrap_err()
                .to_string()
                .contains("Duplicate value: \"app\"")
        );
    }
}
