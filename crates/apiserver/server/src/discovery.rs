//! Discovery: the legacy documents (`/api`, `/apis`, `/apis/G`, `/api/v1`, `/apis/G/V`) and
//! the aggregated `apidiscovery.k8s.io/v2` form that kubectl asks for first on `/api` and
//! `/apis`, over the built-in kinds and those of Established CRDs (the [`Registry`]).

use serde_json::{Value, json};

use crate::crd::Registry;
use crate::resources::ResourceType;

/// The media type of aggregated discovery, which the response must carry for a client to
/// take it as such (otherwise it falls back to the legacy documents).
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub fn wants_aggregated(accept: &str) -> bool {
    accept.contains("as=APIGroupDiscoveryList") && accept.contains("v=v2")
}

pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]})
}

/// The named groups, in the order first served, each with its versions (preferred first).
fn groups(registry: &Registry) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for (g, v) in registry.group_versions() {
        match out.iter_mut().find(|(group, _)| *group == g) {
            Some((_, versions)) => versions.push(v),
            None => out.push((g, vec![v])),
        }
    }
    out
}

fn group_json(group: &str, versions: &[&str]) -> Value {
    let gvs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
}

pub fn api_group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = groups(registry)
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_json(g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/G`, if the group is served.
pub fn api_group(registry: &Registry, group: &str) -> Option<Value> {
    let versions = registry.versions_of(group);
    if group.is_empty() || versions.is_empty() {
        return None;
    }
    let mut doc = group_json(group, &versions);
    doc["kind"] = "APIGroup".into();
    doc["apiVersion"] = "v1".into();
    Some(doc)
}

fn in_group_version(registry: &Registry, group: &str, version: &str) -> Vec<&'static ResourceType> {
    registry
        .all()
        .into_iter()
        .filter(|r| r.group == group && r.version == version)
        .collect()
}

pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in in_group_version(registry, group, version) {
        resources.push(json!({
            "name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
            "kind": rt.kind, "verbs": rt.verbs(), "shortNames": rt.short_names,
            "categories": rt.categories,
        }));
        for sub in rt.subresources() {
            let mut entry = json!({"name": format!("{}/{}", rt.plural, sub.name),
                "singularName": "", "namespaced": rt.namespaced, "kind": sub.kind,
                "verbs": sub.verbs});
            if sub.group != rt.group {
                entry["group"] = sub.group.into();
                entry["version"] = sub.version.into();
            }
            resources.push(entry);
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
        "resources": resources}),
    )
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let subresources: Vec<Value> = rt
        .subresources()
        .map(|sub| {
            json!({"subresource": sub.name,
                "responseKind": {"group": sub.group, "version": sub.version, "kind": sub.kind},
                "verbs": sub.verbs})
        })
        .collect();
    json!({"resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular, "verbs": rt.verbs(),
        "shortNames": rt.short_names, "categories": rt.categories,
        "subresources": subresources})
}

/// The aggregated document for `/api` (`core`) or `/apis`: one item per group, its
/// versions preferred first.
pub fn aggregated(registry: &Registry, core: bool) -> Value {
    let items: Vec<Value> = groups(registry)
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = in_group_version(registry, g, v)
                        .into_iter()
                        .map(aggregated_resource)
                        .collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {}, "items": items})
}
