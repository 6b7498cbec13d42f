//! The schemas of the served kinds, named as upstream names them
//! (`io.k8s.api.core.v1.Pod`): built-in kinds from k8s-openapi's generated schemas, with the
//! extensions kubectl reads added — `x-kubernetes-group-version-kind` on each kind and
//! `x-kubernetes-patch-strategy`/`-merge-key` (and list-map keys) on the lists that the
//! server's strategic merge merges by key, from the same table ([`list_merge`]), so client
//! and server agree.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::schemars::SchemaGenerator;
use k8s_openapi::schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::patch::{ListMerge, list_map_keys, list_merge};
use crate::resources::{RESOURCES, ResourceType};

/// Where definitions live: OpenAPI v3's components or Swagger 2.0's definitions.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    V3,
    V2,
}

/// Definitions by name.
type Definitions = Map<String, Value>;

/// The definition a `$ref` in `flavor` points at.
pub fn reference(flavor: Flavor, name: &str) -> String {
    match flavor {
        Flavor::V3 => format!("#/components/schemas/{name}"),
        Flavor::V2 => format!("#/definitions/{name}"),
    }
}

fn generator(flavor: Flavor) -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| {
            if flavor == Flavor::V2 {
                s.definitions_path = "/definitions".into();
            }
            s.meta_schema = None;
        })
        .into_generator()
}

/// The definitions of the built-in kinds of one group-version (every kind: `None`), with
/// everything they reference; generated once per process, as they never change.
pub fn built_in(flavor: Flavor, group_version: Option<(&str, &str)>) -> Map<String, Value> {
    static CACHE: OnceLock<HashMap<Flavor, Map<String, Value>>> = OnceLock::new();
    static BY_GV: OnceLock<HashMap<(Flavor, String, String), Definitions>> = OnceLock::new();
    let Some((g, v)) = group_version else {
        return CACHE.get_or_init(|| {
            [Flavor::V3, Flavor::V2]
                .into_iter()
                .map(|f| (f, generate(f, RESOURCES.iter())))
                .collect()
        })[&flavor]
            .clone();
    };
    let by_gv = BY_GV.get_or_init(|| {
        let mut out = HashMap::new();
        for f in [Flavor::V3, Flavor::V2] {
            for rt in RESOURCES {
                let key = (f, rt.group.to_string(), rt.version.to_string());
                if out.contains_key(&key) {
                    continue;
                }
                let kinds = RESOURCES
                    .iter()
                    .filter(|r| r.group == rt.group && r.version == rt.version);
                out.insert(key, generate(f, kinds));
            }
        }
        out
    });
    by_gv
        .get(&(flavor, g.to_string(), v.to_string()))
        .cloned()
        .unwrap_or_default()
}

/// ObjectMeta and what it references, for the custom kinds' `metadata`.
pub fn object_meta(flavor: Flavor) -> (String, Map<String, Value>) {
    let mut generator = generator(flavor);
    let reference = generator.subschema_for::<ObjectMeta>();
    let name = reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    (name, generator.take_definitions(true))
}

fn generate<'a>(
    flavor: Flavor,
    kinds: impl Iterator<Item = &'a ResourceType>,
) -> Map<String, Value> {
    let mut generator = generator(flavor);
    let mut roots = Vec::new();
    for rt in kinds {
        let Some(schema_of) = rt.openapi else {
            continue;
        };
        let reference = schema_of(&mut generator);
        if let Some(name) = reference.get("$ref").and_then(Value::as_str) {
            let name = name.rsplit('/').next().unwrap_or(name).to_string();
            roots.push((name, rt));
        }
    }
    let mut defs = generator.take_definitions(true);
    let mut seen = HashSet::new();
    for (name, rt) in &roots {
        if let Some(def) = defs.get_mut(name) {
            def["x-kubernetes-group-version-kind"] =
                json!([{"group": rt.group, "version": rt.version, "kind": rt.kind}]);
        }
        annotate_lists(&mut defs, name, &mut Vec::new(), &mut seen);
    }
    defs
}

/// The definition a property schema refers to: `$ref`, `allOf: [{$ref}]`, or its items'.
fn referenced(schema: &Value) -> Option<String> {
    let direct = |s: &Value| {
        s.get("$ref")
            .or_else(|| s["allOf"].get(0).and_then(|a| a.get("$ref")))
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
    };
    direct(schema).or_else(|| schema.get("items").and_then(direct))
}

/// Walks the definition `name`, reached at `path` (field names from the kind's root), and
/// marks its lists with their merge strategy; each definition is walked once, at the first
/// path that reaches it.
fn annotate_lists(
    defs: &mut Map<String, Value>,
    name: &str,
    path: &mut Vec<String>,
    seen: &mut HashSet<String>,
) {
    if !seen.insert(name.to_string()) {
        return;
    }
    let Some(properties) = defs
        .get(name)
        .and_then(|d| d["properties"].as_object())
        .cloned()
    else {
        return;
    };
    for (field, schema) in properties {
        path.push(field.clone());
        if schema["type"] == "array" {
            let marks = list_marks(list_merge(path), list_map_keys(path));
            if let Some(target) = defs
                .get_mut(name)
                .and_then(|d| d["properties"][&field].as_object_mut())
            {
                target.extend(marks);
            }
        }
        if let Some(next) = referenced(&schema) {
            annotate_lists(defs, &next, path, seen);
        }
        path.pop();
    }
}

fn list_marks(merge: ListMerge, map_keys: ListMerge) -> Map<String, Value> {
    let mut out = Map::new();
    match merge {
        ListMerge::Replace => {}
        ListMerge::Union => {
            out.insert("x-kubernetes-patch-strategy".into(), "merge".into());
            out.insert("x-kubernetes-list-type".into(), "set".into());
        }
        ListMerge::ByKey(keys) => {
            out.insert("x-kubernetes-patch-strategy".into(), "merge".into());
            out.insert("x-kubernetes-patch-merge-key".into(), keys[0].into());
        }
    }
    // Ports are keyed by number and protocol together (53/UDP beside 53/TCP).
    if let ListMerge::ByKey(keys) = map_keys
        && keys.len() > 1
    {
        out.insert("x-kubernetes-list-type".into(), "map".into());
        out.insert("x-kubernetes-list-map-keys".into(), json!(keys));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_schema_carries_names_and_kubectls_extensions() {
        let defs = built_in(Flavor::V3, Some(("", "v1")));
        let pod = &defs["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "version": "v1", "kind": "Pod"}])
        );
        let spec = &defs["io.k8s.api.core.v1.PodSpec"]["properties"];
        assert_eq!(spec["containers"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(spec["containers"]["x-kubernetes-patch-strategy"], "merge");
        let ports = &defs["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let env = &defs["io.k8s.api.core.v1.Container"]["properties"]["env"];
        assert_eq!(env["x-kubernetes-patch-merge-key"], "name");
        let service_ports = &defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
        assert_eq!(service_ports["x-kubernetes-patch-merge-key"], "port");
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
    }

    #[test]
    fn references_point_into_the_flavors_definitions() {
        let v2 = built_in(Flavor::V2, Some(("apps", "v1")));
        let text = serde_json::to_string(&v2["io.k8s.api.apps.v1.Deployment"]).unwrap();
        assert!(
            text.contains("#/definitions/io.k8s.api.apps.v1.DeploymentSpec"),
            "{text}"
        );
        assert!(!text.contains("#/components/"), "{text}");
    }
}
