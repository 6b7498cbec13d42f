//! Strategic merge patch, as kubectl sends it (`kubectl apply`, `patch`, `label`, `scale`):
//! a merge patch whose lists of objects merge element-wise by their `patchMergeKey`, with the
//! `$patch`, `$retainKeys`, `$setElementOrder/…` and `$deleteFromPrimitiveList/…` directives.

use serde_json::{Map, Value};

/// How a list field is merged, by where it sits (`path` holds the field names from the root,
/// list indexes left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMerge {
    Replace,
    /// Elements are identified by these fields (a missing `protocol` counts as `TCP`, its
    /// default, as the API server defaults it).
    ByKey(&'static [&'static str]),
    /// A list of scalars merged as a set (metadata.finalizers).
    Union,
}

/// How a list is merged by a strategic merge patch: each list's `patchMergeKey`.
pub fn list_merge(path: &[String]) -> ListMerge {
    let Some(field) = path.last().map(String::as_str) else {
        return ListMerge::Replace;
    };
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => ListMerge::ByKey(&["name"]),
        "ports" if is_container_ports(path) => ListMerge::ByKey(&["containerPort"]),
        "ports" if is_service_ports(path) => ListMerge::ByKey(&["port"]),
        "volumeMounts" => ListMerge::ByKey(&["mountPath"]),
        "volumeDevices" => ListMerge::ByKey(&["devicePath"]),
        "conditions" => ListMerge::ByKey(&["type"]),
        "addresses" if parent == Some("status") => ListMerge::ByKey(&["type"]),
        "podIPs" | "hostIPs" | "hostAliases" => ListMerge::ByKey(&["ip"]),
        "ownerReferences" => ListMerge::ByKey(&["uid"]),
        "topologySpreadConstraints" => ListMerge::ByKey(&["topologyKey"]),
        "finalizers" if parent == Some("metadata") => ListMerge::Union,
        _ => ListMerge::Replace,
    }
}

/// How server-side apply identifies list elements: the `x-kubernetes-list-map-keys` of each
/// list. They differ from the patch merge keys where one port number serves two protocols
/// (53/UDP and 53/TCP are two elements to apply, one to a strategic merge patch).
pub fn list_map_keys(path: &[String]) -> ListMerge {
    match path.last().map(String::as_str) {
        Some("ports") if is_container_ports(path) => {
            ListMerge::ByKey(&["containerPort", "protocol"])
        }
        Some("ports") if is_service_ports(path) => ListMerge::ByKey(&["port", "protocol"]),
        _ => list_merge(path),
    }
}

fn is_container_ports(path: &[String]) -> bool {
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    parent.is_some_and(|p| p.ends_with("ontainers"))
}

fn is_service_ports(path: &[String]) -> bool {
    path.len() == 2 && path[0] == "spec"
}

/// The identity of a list element under `keys`, as a JSON object (`{"containerPort":53,
/// "protocol":"UDP"}`): what FieldsV1 writes after `k:` and what elements are matched by.
pub fn element_key(item: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .map(|k| {
            let v = match item.get(*k) {
                None | Some(Value::Null) if *k == "protocol" => Value::from("TCP"),
                Some(v) => v.clone(),
                None => Value::Null,
            };
            (k.to_string(), v)
        })
        .collect()
}

/// Which rule names a list's merge strategy from its path.
pub type ListRule = fn(&[String]) -> ListMerge;

/// Applies a strategic merge patch to `target`.
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    merge_value(target, patch, &mut Vec::new(), list_merge)
}

/// Merges `patch` into `target` with lists merged by `rule` (server-side apply merges by
/// the list-map keys).
pub fn merge_with(target: &mut Value, patch: &Value, rule: ListRule) -> Result<(), String> {
    merge_value(target, patch, &mut Vec::new(), rule)
}

fn merge_value(
    target: &mut Value,
    patch: &Value,
    path: &mut Vec<String>,
    rule: ListRule,
) -> Result<(), String> {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch_map.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target_map = target.as_object_mut().expect("made a map above");
    let mut orders = Vec::new();
    for (key, value) in patch_map {
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), value));
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let drop: Vec<&Value> = value.as_array().into_iter().flatten().collect();
            if let Some(Value::Array(list)) = target_map.get_mut(field) {
                list.retain(|v| !drop.contains(&v));
            }
            continue;
        }
        if value.is_null() {
            target_map.remove(key);
            continue;
        }
        path.push(key.clone());
        let slot = target_map.entry(key.clone()).or_insert(Value::Null);
        match value {
            Value::Array(items) => merge_list(slot, items, path, rule)?,
            Value::Object(m) if m.get("$patch").and_then(Value::as_str) == Some("delete") => {
                target_map.remove(key);
            }
            _ => merge_value(slot, value, path, rule)?,
        }
        path.pop();
    }
    if let Some(retain) = patch_map.get("$retainKeys").and_then(Value::as_array) {
        target_map.retain(|k, _| retain.iter().any(|r| r.as_str() == Some(k)));
    }
    for (field, order) in orders {
        path.push(field.clone());
        if let (ListMerge::ByKey(keys), Some(Value::Array(list))) =
            (rule(path), target_map.get_mut(&field))
        {
            reorder(list, keys, order);
        }
        path.pop();
    }
    Ok(())
}

fn merge_list(
    target: &mut Value,
    items: &[Value],
    path: &mut Vec<String>,
    rule: ListRule,
) -> Result<(), String> {
    let strategy = rule(path);
    let replace_all = items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    if strategy == ListMerge::Replace || replace_all || !target.is_array() {
        let mut kept = Vec::new();
        for item in items.iter().filter(|i| i.get("$patch").is_none()) {
            kept.push(fresh_element(item, path, rule)?);
        }
        *target = Value::Array(kept);
        return Ok(());
    }
    let list = target.as_array_mut().expect("checked above");
    match strategy {
        ListMerge::Union => {
            for item in items {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
        }
        ListMerge::ByKey(keys) => {
            for item in items {
                let id = element_key(item, keys);
                let found = list.iter().position(|e| element_key(e, keys) == id);
                let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
                match (found, delete) {
                    (Some(at), true) => {
                        list.remove(at);
                    }
                    (None, true) => {}
                    (Some(at), false) => merge_value(&mut list[at], item, path, rule)?,
                    (None, false) => list.push(fresh_element(item, path, rule)?),
                }
            }
        }
        ListMerge::Replace => unreachable!("handled above"),
    }
    Ok(())
}

/// A list element the target did not have: the patch's element merged into nothing, so
/// its nulls delete nothing and are not kept (merging the same patch again, into the element
/// now there, drops them: keeping them would make a second merge change the object).
fn fresh_element(item: &Value, path: &mut Vec<String>, rule: ListRule) -> Result<Value, String> {
    let mut fresh = Value::Null;
    merge_value(&mut fresh, item, path, rule)?;
    Ok(fresh)
}

/// Orders merged elements as `$setElementOrder` lists them; unlisted ones keep their place
/// after the listed.
fn reorder(list: &mut [Value], keys: &[&str], order: &Value) {
    let order: Vec<Map<String, Value>> = order
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| element_key(o, keys))
        .collect();
    list.sort_by_key(|item| {
        let id = element_key(item, keys);
        order.iter().position(|o| *o == id).unwrap_or(usize::MAX)
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment() -> Value {
        json!({"metadata": {"labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
                 "ports": [{"containerPort": 80}]},
                {"name": "side", "image": "busybox"}]}}}})
    }

    #[test]
    fn kubectl_shaped_patches_merge_by_key() {
        let cases = [
            // kubectl set image / patch: one container changes, the other stays.
            (
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "web", "image": "nginx:2"}]}}}}),
                "/spec/template/spec/containers",
                json!([
                    {"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 80}]},
                    {"name": "side", "image": "busybox"}]),
            ),
            // env merges by name inside a merged container; ports by containerPort.
            (
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "web", "env": [{"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80, "name": "http"}]}]}}}}),
                "/spec/template/spec/containers/0",
                json!({"name": "web", "image": "nginx:1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 80, "name": "http"}]}),
            ),
            // $patch: delete removes one element.
            (
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "side", "$patch": "delete"}]}}}}),
                "/spec/template/spec/containers/1",
                Value::Null,
            ),
            // kubectl label --overwrite / label-: null deletes.
            (
                json!({"metadata": {"labels": {"app": null, "tier": "front"}}}),
                "/metadata/labels",
                json!({"tier": "front"}),
            ),
            // A new element's nulls are not kept (a second merge of the patch drops them).
            (
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "web", "env": [{"name": "B", "value": "2", "valueFrom": null}]}]}}}}),
                "/spec/template/spec/containers/0/env/1",
                json!({"name": "B", "value": "2"}),
            ),
            // finalizers merge as a set; $deleteFromPrimitiveList removes.
            (
                json!({"metadata": {"finalizers": ["b"], "$deleteFromPrimitiveList/finalizers": ["a"]}}),
                "/metadata/finalizers",
                json!(["b"]),
            ),
            // $setElementOrder orders merged elements (kubectl apply sends it).
            (
                json!({"spec": {"template": {"spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "web"}]}}}}),
                "/spec/template/spec/containers/0/name",
                json!("side"),
            ),
        ];
        for (patch, pointer, want) in cases {
            let mut obj = deployment();
            strategic_merge_patch(&mut obj, &patch).unwrap();
            let got = obj.pointer(pointer).cloned().unwrap_or(Value::Null);
            assert_eq!(got, want, "patch {patch}");
        }
    }

    #[test]
    fn service_ports_merge_by_port_and_retain_keys_prunes() {
        let mut svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}],
            "type": "NodePort", "externalTrafficPolicy": "Local"}});
        let patch = json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}],
            "strategy": null, "$retainKeys": ["ports", "type"]}});
        strategic_merge_patch(&mut svc, &patch).unwrap();
        assert_eq!(
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                {"port": 443}], "type": "NodePort"}})
        );
    }
}
