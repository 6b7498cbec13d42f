//! The OpenAPI documents: `/openapi/v3` (an index, then one document per group-version) and
//! `/openapi/v2` (one Swagger 2.0 document), with every served kind's real schema — the
//! built-in kinds' from k8s-openapi ([`schemas`]), custom kinds' from their CRD — so that
//! `kubectl explain` works and kubectl's client-side patches merge lists by the keys the
//! server merges by.
//!
//! `kubectl apply`/`create` (default `--validate=strict`) ask `/openapi/v3` whether each
//! kind's PATCH operation takes the `fieldValidation` query parameter; when it does, kubectl
//! leaves validation to the server (which refuses unknown fields under
//! `fieldValidation=Strict`). Documents are built once per change of the served kinds.

pub mod schemas;

use serde_json::{Map, Value, json};

use crate::crd::Registry;
use crate::resources::ResourceType;
use schemas::{Flavor, reference};

/// The media type of the protobuf encoding of `/openapi/v2`, which is not served: a client
/// that accepts only it gets 406, as from a server without it.
pub const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2";

/// Whether a client asks `/openapi/v2` in protobuf and nothing this server encodes.
pub fn wants_only_protobuf(accept: &str) -> bool {
    accept.contains(V2_PROTOBUF) && !accept.contains("json") && !accept.contains("*/*")
}

/// The 406 Status kube-apiserver's negotiation gives for a media type it does not offer.
pub fn not_acceptable(accept: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("only the following media types are accepted: application/json \
            (not {accept})"),
        "reason": "NotAcceptable", "code": 406})
}

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
        "{}-{:016X}",
        env!("CARGO_PKG_VERSION"),
        registry.fingerprint()
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

/// A custom kind's schema as a definition: the CRD's, with the type fields, ObjectMeta as
/// its metadata, and the group-version-kind extension kubectl matches on.
fn custom_schema(rt: &ResourceType, schema: &Value, object_meta: &str, flavor: Flavor) -> Value {
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
        json!({"allOf": [{"$ref": reference(flavor, object_meta)}],
            "description": "Standard object's metadata."}),
    );
    with_type.extend(properties);
    out["properties"] = Value::Object(with_type);
    out["x-kubernetes-group-version-kind"] =
        json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
    out
}

/// The definition name of a kind in `definitions` (built-ins by their group-version-kind).
fn definition_of(rt: &ResourceType, definitions: &Map<String, Value>) -> Option<String> {
    if rt.custom.is_some() {
        return Some(custom_definition_name(rt));
    }
    let gvk = json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
    definitions
        .iter()
        .find(|(_, d)| d["x-kubernetes-group-version-kind"] == gvk)
        .map(|(name, _)| name.clone())
}

/// Adds the custom kinds among `kinds` (and ObjectMeta, which they refer to) to
/// `definitions`.
fn add_custom(kinds: &[&ResourceType], flavor: Flavor, definitions: &mut Map<String, Value>) {
    let custom: Vec<&&ResourceType> = kinds.iter().filter(|r| r.custom.is_some()).collect();
    if custom.is_empty() {
        return;
    }
    let (object_meta, meta_definitions) = schemas::object_meta(flavor);
    definitions.extend(meta_definitions);
    for rt in custom {
        let schema = &rt.custom.expect("filtered on custom").schema;
        definitions.insert(
            custom_definition_name(rt),
            custom_schema(rt, schema, &object_meta, flavor),
        );
    }
}

/// The item path of a kind and the operations kubectl looks at, in `flavor`'s shape.
fn operations(rt: &ResourceType, definition: Option<&str>, flavor: Flavor) -> (String, Value) {
    let base = rt.group_version_path();
    let item = if rt.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
    } else {
        format!("{base}/{}/{{name}}", rt.plural)
    };
    let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    let param = |name: &str, kind: &str| match flavor {
        Flavor::V3 => json!({"name": name, "in": "query", "schema": {"type": kind}}),
        Flavor::V2 => json!({"name": name, "in": "query", "type": kind}),
    };
    let params = json!([
        param("dryRun", "string"),
        param("fieldManager", "string"),
        param("fieldValidation", "string"),
        param("force", "boolean"),
    ]);
    let ok = match (definition, flavor) {
        (None, _) => json!({"description": "OK"}),
        (Some(d), Flavor::V3) => json!({"description": "OK", "content": {
            "application/json": {"schema": {"$ref": reference(flavor, d)}}}}),
        (Some(d), Flavor::V2) => {
            json!({"description": "OK", "schema": {"$ref": reference(flavor, d)}})
        }
    };
    let op = |id: &str| {
        json!({"operationId": format!("{id}{}", rt.kind), "parameters": params,
            "responses": {"200": ok},
            "x-kubernetes-action": id, "x-kubernetes-group-version-kind": gvk})
    };
    (
        item,
        json!({"get": op("read"), "put": op("replace"), "patch": op("patch"),
            "delete": op("delete")}),
    )
}

fn document(kinds: &[&ResourceType], mut definitions: Map<String, Value>, flavor: Flavor) -> Value {
    add_custom(kinds, flavor, &mut definitions);
    let mut paths = Map::new();
    for rt in kinds {
        let definition = definition_of(rt, &definitions);
        let (item, ops) = operations(rt, definition.as_deref(), flavor);
        paths.insert(item, ops);
    }
    let info = json!({"title": "Kubernetes", "version": "v1.37.0"});
    match flavor {
        Flavor::V3 => json!({"openapi": "3.0.0", "info": info, "paths": paths,
            "components": {"schemas": definitions}}),
        Flavor::V2 => json!({"swagger": "2.0", "info": info, "paths": paths,
            "definitions": definitions}),
    }
}

/// The v3 document of one group-version (`api/v1`, `apis/apps/v1`), if served.
pub fn group_version(registry: &Registry, path: &str) -> Option<Value> {
    let (g, v) = registry
        .group_versions()
        .into_iter()
        .find(|(g, v)| gv_path(g, v) == path)?;
    let doc = registry.document(&format!("v3/{path}"), || {
        let kinds: Vec<&ResourceType> = registry
            .all()
            .into_iter()
            .filter(|r| r.group == g && r.version == v)
            .collect();
        let definitions = schemas::built_in(Flavor::V3, Some((g, v)));
        Some(document(&kinds, definitions, Flavor::V3))
    })?;
    Some((*doc).clone())
}

/// The Swagger 2.0 document of every served kind.
pub fn v2(registry: &Registry) -> Value {
    let doc = registry.document("v2", || {
        let kinds = registry.all();
        let definitions = schemas::built_in(Flavor::V2, None);
        Some(document(&kinds, definitions, Flavor::V2))
    });
    (*doc.expect("v2 is always built")).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_in_protobuf_alone_is_not_acceptable() {
        let cases = [
            (
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                true,
            ),
            (
                "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json",
                false,
            ),
            ("application/json", false),
            ("", false),
            ("*/*", false),
        ];
        for (accept, refused) in cases {
            assert_eq!(wants_only_protobuf(accept), refused, "{accept}");
        }
    }
}
