//! An apply configuration must name each element of an associative list once: upstream's
//! typed conversion refuses one that does not, before any merging (merging two elements
//! with one key into the live list is not the same the first time — the list is new and
//! takes both — as the second, when the live element takes each in turn).

use serde_json::Value;

use super::strategic::{ListMerge, element_key, list_map_keys};

/// The first list of `config` with two elements of one key, in upstream's words:
/// `.spec.containers: duplicate entries for key [name="web"]`.
pub fn duplicate_entries(config: &Value) -> Option<String> {
    walk(config, &mut Vec::new(), &mut String::new())
}

fn walk(v: &Value, names: &mut Vec<String>, shown: &mut String) -> Option<String> {
    match v {
        Value::Object(map) => map.iter().find_map(|(k, child)| {
            let len = shown.len();
            names.push(k.clone());
            shown.push('.');
            shown.push_str(k);
            let found = walk(child, names, shown);
            names.pop();
            shown.truncate(len);
            found
        }),
        Value::Array(items) => {
            let ListMerge::ByKey(keys) = list_map_keys(names) else {
                return None;
            };
            let mut seen = Vec::new();
            for item in items {
                let id = element_key(item, keys);
                let spelled: Vec<String> = id.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let spelled = format!("[{}]", spelled.join(","));
                if seen.contains(&id) {
                    return Some(format!("{shown}: duplicate entries for key {spelled}"));
                }
                seen.push(id);
                let len = shown.len();
                shown.push_str(&spelled);
                let found = walk(item, names, shown);
                shown.truncate(len);
                if found.is_some() {
                    return found;
                }
            }
            None
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_the_first_list_with_a_key_twice() {
        let ok = json!({"spec": {"containers": [{"name": "web"}, {"name": "side"}]}});
        assert_eq!(duplicate_entries(&ok), None);
        let twice = json!({"spec": {"containers": [{"name": "web"}, {"name": "web"}]}});
        assert_eq!(
            duplicate_entries(&twice).as_deref(),
            Some(r#".spec.containers: duplicate entries for key [name="web"]"#)
        );
        let nested = json!({"spec": {"template": {"spec": {"containers": [{"name": "web",
            "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}]}}}});
        assert_eq!(
            duplicate_entries(&nested).as_deref(),
            Some(
                r#".spec.template.spec.containers[name="web"].env: duplicate entries for key [name="A"]"#
            )
        );
        // 53/UDP and 53/TCP are two elements to apply.
        let ports = json!({"spec": {"ports": [{"port": 53, "protocol": "UDP"},
            {"port": 53, "protocol": "TCP"}]}});
        assert_eq!(duplicate_entries(&ports), None);
    }
}
