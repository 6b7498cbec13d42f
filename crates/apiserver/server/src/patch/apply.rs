//! Server-side apply, a field-manager-aware subset: each applier owns the fields its last
//! configuration set (kept in `metadata.managedFields` as FieldsV1); applying merges the
//! configuration, removes fields the same manager set before and no longer sets (unless
//! another applier owns them too), and refuses — unless forced — to change a field another
//! applier owns. Ownership by plain updates is not tracked.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::strategic::{ListMerge, element_key, list_map_keys, merge_with};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Field(String),
    /// A list element by its merge key, as FieldsV1 spells it: `{"name":"web"}`.
    Key(String),
}

type FieldPath = Vec<Step>;

/// A field another applier owns, with the name of that manager.
#[derive(Debug, PartialEq)]
pub struct Conflict {
    pub field: String,
    pub manager: String,
}

/// Applies `config` for `manager` onto `live` (None: the object does not exist yet).
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    api_version: &str,
) -> Result<Value, Vec<Conflict>> {
    let live = live.cloned().unwrap_or_else(|| json!({}));
    let mut config = config.clone();
    if let Some(m) = config["metadata"].as_object_mut() {
        m.remove("managedFields");
        m.remove("resourceVersion");
    }
    let mut owned = Vec::new();
    leaves(&config, &mut Vec::new(), &mut Vec::new(), &mut owned);
    let owned: BTreeSet<FieldPath> = owned.into_iter().collect();

    let mut entries: Vec<Value> = live["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut conflicts = Vec::new();
    let mut previous = BTreeSet::new();
    let mut others = BTreeSet::new();
    for entry in entries.iter_mut() {
        let set = parse_fields(&entry["fieldsV1"]);
        if entry["manager"] == manager && entry["operation"] == "Apply" {
            previous = set;
            continue;
        }
        if entry["operation"] != "Apply" {
            continue;
        }
        let clashing: Vec<&FieldPath> = set
            .intersection(&owned)
            .filter(|p| get(&live, p) != get(&config, p))
            .collect();
        if force && !clashing.is_empty() {
            let kept: BTreeSet<FieldPath> = set
                .iter()
                .filter(|p| !clashing.contains(p))
                .cloned()
                .collect();
            entry["fieldsV1"] = fields_json(&kept);
            others.extend(kept);
            continue;
        }
        for p in clashing {
            conflicts.push(Conflict {
                field: dotted(p),
                manager: entry["manager"].as_str().unwrap_or("").to_string(),
            });
        }
        others.extend(set);
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }

    let previous_entry = entries
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == "Apply")
        .cloned();
    let mut merged = live.clone();
    merge_with(&mut merged, &config, list_map_keys).expect("a configuration has no directives");
    // Remove each field the manager no longer sets at its highest ancestor that nothing
    // still set lies under (a dropped env entry goes whole, not field by field).
    let under =
        |prefix: &[Step], set: &BTreeSet<FieldPath>| set.iter().any(|p| p.starts_with(prefix));
    let mut drop: BTreeSet<FieldPath> = BTreeSet::new();
    for gone in previous.difference(&owned) {
        if let Some(len) =
            (1..=gone.len()).find(|&n| !under(&gone[..n], &owned) && !under(&gone[..n], &others))
        {
            drop.insert(gone[..len].to_vec());
        }
    }
    for path in drop.iter().rev() {
        remove(&mut merged, path);
    }
    entries.retain(|e| !(e["manager"] == manager && e["operation"] == "Apply"));
    let fields = fields_json(&owned);
    // Applying what is already there changes nothing, not even the entry's time: the
    // object keeps its resourceVersion and watchers see no event.
    let entry = match previous_entry {
        Some(entry)
            if entry["fieldsV1"] == fields
                && without_managed(&merged) == without_managed(&live) =>
        {
            entry
        }
        _ => json!({
            "manager": manager,
            "operation": "Apply",
            "apiVersion": api_version,
            "time": podnet_apiserver_store::meta::timestamp(jiff::Timestamp::now()),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields,
        }),
    };
    entries.push(entry);
    merged["metadata"]["managedFields"] = Value::Array(entries);
    Ok(merged)
}

fn without_managed(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    obj
}

/// Collects the paths of the fields a configuration sets.
fn leaves(v: &Value, names: &mut Vec<String>, cur: &mut FieldPath, out: &mut Vec<FieldPath>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let identity = match names.as_slice() {
                    [] => matches!(k.as_str(), "apiVersion" | "kind"),
                    [m] if m == "metadata" => matches!(k.as_str(), "name" | "namespace"),
                    _ => false,
                };
                if identity {
                    continue;
                }
                names.push(k.clone());
                cur.push(Step::Field(k.clone()));
                leaves(child, names, cur, out);
                cur.pop();
                names.pop();
            }
        }
        Value::Array(items) => match list_map_keys(names) {
            ListMerge::ByKey(keys) => {
                for item in items {
                    let id = Value::Object(element_key(item, keys));
                    cur.push(Step::Key(id.to_string()));
                    leaves(item, names, cur, out);
                    cur.pop();
                }
            }
            _ => out.push(cur.clone()),
        },
        _ => out.push(cur.clone()),
    }
}

fn fields_json(set: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for (i, step) in path.iter().enumerate() {
            let name = match step {
                Step::Field(f) => format!("f:{f}"),
                Step::Key(k) => format!("k:{k}"),
            };
            let child = node.entry(name).or_insert_with(|| json!({}));
            if matches!(step, Step::Key(_)) && i + 1 < path.len() {
                child[".".to_string()] = json!({});
            }
            node = child.as_object_mut().expect("built as maps");
        }
    }
    Value::Object(root)
}

fn parse_fields(v: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, cur: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let children: Vec<(&String, &Value)> = v
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.as_str() != ".")
            .collect();
        if children.is_empty() {
            if !cur.is_empty() {
                out.insert(cur.clone());
            }
            return;
        }
        for (k, child) in children {
            let step = if let Some(f) = k.strip_prefix("f:") {
                Step::Field(f.to_string())
            } else if let Some(key) = k.strip_prefix("k:") {
                Step::Key(key.to_string())
            } else {
                continue;
            };
            cur.push(step);
            walk(child, cur, out);
            cur.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn find_keyed(list: &[Value], key: &str) -> Option<usize> {
    let id: Map<String, Value> = serde_json::from_str(key).ok()?;
    let keys: Vec<&str> = id.keys().map(String::as_str).collect();
    list.iter().position(|item| element_key(item, &keys) == id)
}

fn get<'a>(v: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    let mut cur = v;
    for step in path {
        cur = match step {
            Step::Field(f) => cur.get(f)?,
            Step::Key(k) => {
                let list = cur.as_array()?;
                &list[find_keyed(list, k)?]
            }
        };
    }
    Some(cur)
}

fn remove(v: &mut Value, path: &FieldPath) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for step in parent_path {
        let next = match step {
            Step::Field(f) => cur.get_mut(f),
            Step::Key(k) => match cur.as_array_mut() {
                Some(list) => match find_keyed(list, k) {
                    Some(i) => list.get_mut(i),
                    None => None,
                },
                None => None,
            },
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    match last {
        Step::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        Step::Key(k) => {
            if let Some(list) = cur.as_array_mut()
                && let Some(i) = find_keyed(list, k)
            {
                list.remove(i);
            }
        }
    }
}

/// `.spec.replicas`, `.spec.containers[name="web"].image`: the API server's spelling.
fn dotted(path: &FieldPath) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Field(f) => {
                out.push('.');
                out.push_str(f);
            }
            Step::Key(k) => {
                let id: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = id.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push_str(&format!("[{}]", parts.join(",")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(replicas: i64, with_env: bool) -> Value {
        let mut c = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx"}]}}}});
        if with_env {
            c["spec"]["template"]["spec"]["containers"][0]["env"] =
                json!([{"name": "A", "value": "1"}]);
        }
        c
    }

    #[test]
    fn reapplying_without_a_field_removes_it() {
        let first = apply(None, &config(1, true), "me", false, "apps/v1").unwrap();
        assert_eq!(
            first["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
            "A"
        );
        let fields = &first["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
                .get("k:{\"name\":\"web\"}")
                .is_some()
        );
        let second = apply(Some(&first), &config(1, false), "me", false, "apps/v1").unwrap();
        assert!(
            second["spec"]["template"]["spec"]["containers"][0]
                .get("env")
                .is_none()
        );
        assert_eq!(
            second["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx"
        );
    }

    #[test]
    fn another_appliers_field_conflicts_unless_forced() {
        let first = apply(None, &config(1, false), "alice", false, "apps/v1").unwrap();
        let err = apply(Some(&first), &config(3, false), "bob", false, "apps/v1").unwrap_err();
        assert_eq!(
            err,
            [Conflict {
                field: ".spec.replicas".into(),
                manager: "alice".into()
            }]
        );
        // The same value is shared ownership, not a conflict.
        assert!(apply(Some(&first), &config(1, false), "bob", false, "apps/v1").is_ok());
        let forced = apply(Some(&first), &config(3, false), "bob", true, "apps/v1").unwrap();
        assert_eq!(forced["spec"]["replicas"], 3);
        // alice lost .spec.replicas; re-applying her config conflicts with bob now.
        let err = apply(Some(&forced), &config(1, false), "alice", false, "apps/v1").unwrap_err();
        assert_eq!(err[0].manager, "bob");
    }

    #[test]
    fn one_port_number_for_two_protocols_applies_twice() {
        let dns = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "dns"},
            "spec": {"template": {"spec": {"containers": [{"name": "dns", "ports": [
                {"containerPort": 53, "protocol": "UDP", "name": "dns"},
                {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}]}]}}}});
        let first = apply(None, &dns, "kubectl", false, "apps/v1").unwrap();
        let again = apply(Some(&first), &dns, "kubectl", false, "apps/v1").unwrap();
        for applied in [&first, &again] {
            let ports = &applied["spec"]["template"]["spec"]["containers"][0]["ports"];
            assert_eq!(
                ports,
                &dns["spec"]["template"]["spec"]["containers"][0]["ports"]
            );
        }
        let owned = &again["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:template"]["f:spec"]
            ["f:containers"]["k:{\"name\":\"dns\"}"]["f:ports"];
        assert!(
            owned
                .get("k:{\"containerPort\":53,\"protocol\":\"UDP\"}")
                .is_some(),
            "{owned}"
        );
        assert!(
            owned
                .get("k:{\"containerPort\":53,\"protocol\":\"TCP\"}")
                .is_some()
        );
    }

    #[test]
    fn a_port_without_protocol_is_the_tcp_one() {
        let with = |protocol: Option<&str>| {
            let mut port = json!({"containerPort": 80, "name": "http"});
            if let Some(p) = protocol {
                port["protocol"] = p.into();
            }
            json!({"metadata": {"name": "w"}, "spec": {"template": {"spec": {"containers": [
                {"name": "w", "ports": [port]}]}}}})
        };
        let first = apply(None, &with(Some("TCP")), "m", false, "apps/v1").unwrap();
        let second = apply(Some(&first), &with(None), "m", false, "apps/v1").unwrap();
        let ports = &second["spec"]["template"]["spec"]["containers"][0]["ports"];
        assert_eq!(ports.as_array().unwrap().len(), 1, "{ports}");
    }

    #[test]
    fn applying_the_same_configuration_again_changes_nothing() {
        let first = apply(None, &config(1, true), "me", false, "apps/v1").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let again = apply(Some(&first), &config(1, true), "me", false, "apps/v1").unwrap();
        assert_eq!(again, first);
        let changed = apply(Some(&first), &config(2, true), "me", false, "apps/v1").unwrap();
        assert_eq!(changed["spec"]["replicas"], 2);
    }
}
