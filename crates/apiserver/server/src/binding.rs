//! `POST pods/NAME/binding`: how a scheduler assigns a pod to a node. The pod gets
//! `spec.nodeName`, the Binding's annotations and a `PodScheduled=True` condition in one
//! write; a pod already bound or being deleted is a 409, as upstream.

use axum::http::StatusCode;
use podnet_apiserver_store::meta;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Reply, Req, Target};
use crate::validate::Errors;
use crate::{App, crud};

pub fn create(app: &App, t: &Target, req: &Req) -> Result<Reply, ApiError> {
    let binding = req.object()?;
    let pod_name = t.name.as_deref().unwrap_or("");
    check(&binding, pod_name)?;
    let node = binding["target"]["name"].as_str().unwrap_or("").to_string();
    let conflict = |message: String| ApiError::Conflict {
        qualified: "pods/binding".into(),
        name: pod_name.into(),
        message,
    };
    let key =
        t.rt.store_resource()
            .key(t.namespace.as_deref().unwrap_or(""), pod_name);
    let dry = crud::is_dry_run(req);
    app.store.update_with(&key, |pod| {
        for field in ["uid", "resourceVersion"] {
            let wanted = meta::str_field(&binding, field).filter(|v| !v.is_empty());
            let actual = meta::str_field(pod, field).unwrap_or("");
            if let Some(wanted) = wanted
                && wanted != actual
            {
                return Err(conflict(format!(
                    "Precondition failed: {field} in precondition: {wanted}, {field} in object \
                     meta: {actual}"
                )));
            }
        }
        if meta::is_terminating(pod) {
            return Err(conflict(format!(
                "pod {pod_name} is being deleted, cannot be assigned to a host"
            )));
        }
        if let Some(bound) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
            return Err(conflict(format!(
                "pod {pod_name} is already assigned to node {bound:?}"
            )));
        }
        if dry {
            return Ok((**pod).clone());
        }
        Ok(bound(pod, &binding, &node))
    })?;
    Ok(Reply::with(
        StatusCode::CREATED,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}),
    ))
}

/// The Binding is for this pod and names a node.
fn check(binding: &Value, pod_name: &str) -> Result<(), ApiError> {
    if let Some(kind) = binding["kind"].as_str()
        && kind != "Binding"
    {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({kind}) does not match the expected kind (Binding)"
        )));
    }
    if meta::name(binding) != pod_name {
        return Err(ApiError::BadRequest(
            "name in URL does not match name in Binding object".into(),
        ));
    }
    let mut errs = Errors::default();
    let target = &binding["target"];
    if let Some(kind) = target["kind"].as_str().filter(|k| !k.is_empty())
        && kind != "Node"
    {
        errs.not_supported("target.kind", &target["kind"], &["Node", "<empty>"]);
    }
    if target["name"].as_str().is_none_or(str::is_empty) {
        errs.required("target.name");
    }
    if errs.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        group: "",
        kind: "Binding",
        name: pod_name.into(),
        causes: errs.0,
    })
}

/// The pod as bound to `node`.
fn bound(pod: &Value, binding: &Value, node: &str) -> Value {
    let mut next = pod.clone();
    next["spec"]["nodeName"] = json!(node);
    if let Some(annotations) = binding["metadata"]["annotations"].as_object() {
        let m = meta::metadata_mut(&mut next);
        let target = m.entry("annotations").or_insert_with(|| json!({}));
        if !target.is_object() {
            *target = json!({});
        }
        for (k, v) in annotations {
            target[k] = v.clone();
        }
    }
    let condition = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
        "lastTransitionTime": meta::timestamp(meta::now())});
    if !next["status"].is_object() {
        next["status"] = json!({});
    }
    let status = &mut next["status"];
    match status["conditions"].as_array_mut() {
        Some(list) => match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
            Some(c) if c["status"] == "True" => {}
            Some(c) => *c = condition,
            None => list.push(condition),
        },
        None => status["conditions"] = json!([condition]),
    }
    next
}
