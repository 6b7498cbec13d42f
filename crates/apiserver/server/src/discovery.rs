//! Discovery: the legacy documents (`/api`, `/apis`, `/api/v1`, `/apis/G/V`) and the
//! aggregated `apidiscovery.k8s.io/v2` form that kubectl asks for first on `/api` and `/apis`.

use serde_json::{Value, json};

use crate::resources::{RESOURCES, ResourceType, group_versions};

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

pub fn api_group_list() -> Value {
    let groups: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceType> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in in_group_version(group, version) {
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

/// The aggregated document for `/api` (`core`) or `/apis`.
pub fn aggregated(core: bool) -> Value {
    let items: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, v)| {
            let resources: Vec<Value> = in_group_version(g, v)
                .map(|rt| {
                    let subresources: Vec<Value> = rt
                        .subresources()
                        .map(|sub| {
                            json!({"subresource": sub.name,
                                "responseKind": {"group": sub.group, "version": sub.version,
                                    "kind": sub.kind},
                                "verbs": sub.verbs})
                        })
                        .collect();
                    json!({"resource": rt.plural,
                        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
                        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": rt.singular, "verbs": rt.verbs(),
                        "shortNames": rt.short_names, "categories": rt.categories,
                        "subresources": subresources})
                })
                .collect();
            json!({"metadata": {"name": g},
                "versions": [{"version": v, "resources": resources, "freshness": "Current"}]})
        })
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {}, "items": items})
}
