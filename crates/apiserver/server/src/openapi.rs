//! The OpenAPI v3 documents kubectl needs. `kubectl apply`/`create` (default
//! `--validate=strict`) ask `/openapi/v3` whether each kind's PATCH operation takes the
//! `fieldValidation` query parameter; when it does, kubectl leaves validation to the server
//! (which this one does: unknown fields are refused under `fieldValidation=Strict`). Without
//! these documents kubectl fails with "error validating data". Schemas are not served:
//! kubectl then falls back to its compiled-in patch metadata, which suits built-in kinds.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, group_versions};

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

pub fn root() -> Value {
    let mut paths = serde_json::Map::new();
    for (g, v) in group_versions() {
        let path = gv_path(g, v);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash=podnet-{}", env!("CARGO_PKG_VERSION"))}),
        );
    }
    json!({"paths": paths})
}

/// The document of one group-version (`api/v1`, `apis/apps/v1`), if served.
pub fn group_version(path: &str) -> Option<Value> {
    let (g, v) = group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = serde_json::Map::new();
    for rt in RESOURCES.iter().filter(|r| r.group == g && r.version == v) {
        let base = rt.group_version_path();
        let item = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{base}/{}/{{name}}", rt.plural)
        };
        let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
            {"name": "force", "in": "query", "schema": {"type": "boolean"}},
        ]);
        let op = |id: &str| {
            json!({"operationId": format!("{id}{}", rt.kind), "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": id, "x-kubernetes-group-version-kind": gvk})
        };
        paths.insert(
            item,
            json!({"get": op("read"), "put": op("replace"), "patch": op("patch"),
                "delete": op("delete")}),
        );
    }
    Some(json!({"openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths, "components": {}}))
}
