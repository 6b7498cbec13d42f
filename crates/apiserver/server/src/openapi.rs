//! The OpenAPI v3 documents kubectl needs. `kubectl apply`/`create` (default
//! `--validate=strict`) ask `/openapi/v3` whether each kind's PATCH operation takes the
//! `fieldValidation` query parameter; when it does, kubectl leaves validation to the server
//! (which this one does: unknown fields are refused under `fieldValidation=Strict`). Without
//! these documents kubectl fails with "error validating data".
//!
//! Custom resources carry their CRD's schema under upstream's definition name (the group
//! reversed: `com.example.stable.v1.CronTab`), which is what `kubectl explain` reads.
//! Built-in kinds' schemas are not served: kubectl then falls back to its compiled-in patch
//! metadata, which suits them.

use serde_json::{Map, Value, json};

use crate::crd::Registry;
use crate::resources::ResourceType;

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// The index of group-version documents; each URL's hash changes when the set of served
/// kinds does, so clients refetch after a CRD change.
pub fn root(registry: &Registry) -> Value {
    let hash = format!(
        "podnet-{}-{}",
        env!("CARGO_PKG_VERSION"),
        registry.generation()
    );
    let mut paths = Map::new();
    for (g, v) in registry.group_versions() {
        let path = gv_path(g, v);
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}")}),
        );
    }
    json!({"paths": paths})
}

/// Upstream's definition name of a custom kind: its group reversed, then version and kind
/// (`com.example.stable.v1.CronTab`).
pub fn custom_definition_name(rt: &ResourceType) -> String {
    let reversed: Vec<&str> = rt.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), rt.version, rt.kind)
}

/// A custom kind's schema as a component: the CRD's, with the type fields and the
/// group-version-kind extension kubectl matches on.
fn custom_schema(rt: &ResourceType, schema: &Value) -> Value {
    let mut out = schema.clone();
    let properties = out["properties"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut with_type = Map::new();
    with_type.insert(
        "apiVersion".into(),
        json!({"type": "string", "description": "APIVersion defines the versioned schema of \
            this representation of an object. Servers should convert recognized schemas to the \
            latest internal value, and may reject unrecognized values."}),
    );
    with_type.insert(
        "kind".into(),
        json!({"type": "string", "description": "Kind is a string value representing the REST \
            resource this object represents. Servers may infer this from the endpoint the \
            client submits requests to. Cannot be updated. In CamelCase."}),
    );
    with_type.insert(
        "metadata".into(),
        json!({"type": "object", "description": "Standard object's metadata."}),
    );
    with_type.extend(properties);
    out["properties"] = Value::Object(with_type);
    out["x-kubernetes-group-version-kind"] =
        json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
    out
}

/// The document of one group-version (`api/v1`, `apis/apps/v1`), if served.
pub fn group_version(registry: &Registry, path: &str) -> Option<Value> {
    let (g, v) = registry
        .group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in registry
        .all()
        .into_iter()
        .filter(|r| r.group == g && r.version == v)
    {
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
        let name = custom_definition_name(rt);
        let op = |id: &str| {
            let mut op = json!({"operationId": format!("{id}{}", rt.kind), "parameters": params,
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": id, "x-kubernetes-group-version-kind": gvk});
            if rt.custom.is_some() {
                op["responses"]["200"]["content"] = json!({"application/json": {
                    "schema": {"$ref": format!("#/components/schemas/{name}")}}});
            }
            op
        };
        paths.insert(
            item,
            json!({"get": op("read"), "put": op("replace"), "patch": op("patch"),
                "delete": op("delete")}),
        );
        if let Some(custom) = rt.custom {
            schemas.insert(name, custom_schema(rt, &custom.schema));
        }
    }
    Some(json!({"openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths, "components": {"schemas": schemas}}))
}
