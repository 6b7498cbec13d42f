//! A custom resource's structural schema (`openAPIV3Schema`) applied as upstream applies it on
//! a write: fields the schema does not declare are pruned, then `default`s are filled in.
//! Validation against the same schema is in [`super::check`].

use serde_json::{Map, Value};

/// The fields every object keeps at its root and in an embedded resource.
const TYPE_AND_META: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn flag(schema: &Value, name: &str) -> bool {
    schema[name].as_bool() == Some(true)
}

pub(crate) fn nullable(schema: &Value) -> bool {
    flag(schema, "nullable")
}

pub(crate) fn preserves_unknown(schema: &Value) -> bool {
    flag(schema, "x-kubernetes-preserve-unknown-fields")
}

pub(crate) fn embedded(schema: &Value) -> bool {
    flag(schema, "x-kubernetes-embedded-resource")
}

/// The schema of the values of a map-like object (`additionalProperties: {…}`).
pub(crate) fn additional(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|s| s.is_object())
}

/// Removes what `schema` does not declare from `value`. `root`: the object itself, whose
/// apiVersion, kind and metadata are never pruned.
pub fn prune(schema: &Value, value: &mut Value, root: bool) {
    match value {
        Value::Object(map) => prune_object(schema, map, root),
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    prune(item, v, false);
                }
            }
        }
        _ => {}
    }
}

fn prune_object(schema: &Value, map: &mut Map<String, Value>, root: bool) {
    let keeps_meta = root || embedded(schema);
    let properties = schema["properties"].as_object();
    let values = additional(schema);
    let preserve = preserves_unknown(schema) || schema["additionalProperties"] == true;
    map.retain(|key, v| {
        // Checked first: schemas often declare `metadata: {type: object}` (Gateway API's
        // do), which kube-apiserver ignores rather than pruning the object's metadata.
        if keeps_meta && TYPE_AND_META.contains(&key.as_str()) {
            true
        } else if let Some(s) = properties.and_then(|p| p.get(key)) {
            prune(s, v, false);
            true
        } else if let Some(s) = values {
            prune(s, v, false);
            true
        } else {
            preserve
        }
    });
}

/// Fills in the schema's `default`s where a field is missing (or null and not nullable),
/// under every object that is present, as upstream's structural defaulting does.
pub fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (key, s) in properties {
                    let Some(d) = s.get("default") else { continue };
                    let missing = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !nullable(s),
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(key.clone(), d.clone());
                    }
                }
                for (key, v) in map.iter_mut() {
                    if let Some(s) = properties.get(key) {
                        default(s, v);
                    }
                }
            } else if let Some(s) = additional(schema) {
                for v in map.values_mut() {
                    default(s, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for v in items {
                    default(item, v);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crontab_schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "cronSpec": {"type": "string"},
                "image": {"type": "string"},
                "replicas": {"type": "integer", "default": 1},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "steps": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "retries": {"type": "integer", "default": 3}}}},
                "note": {"type": "string", "nullable": true, "default": "none"},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "properties": {"spec": {"type": "object"}}}
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }})
    }

    #[test]
    fn a_declared_metadata_object_does_not_prune_the_metadata() {
        let schema = json!({"type": "object", "properties": {
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"a": {"type": "string"}}},
        }});
        let mut v = json!({"apiVersion": "g/v1", "kind": "K",
            "metadata": {"name": "n", "namespace": "ns", "annotations": {"x": "y"}},
            "spec": {"a": "1", "b": "2"}});
        prune(&schema, &mut v, true);
        assert_eq!(
            v["metadata"],
            json!({"name": "n", "namespace": "ns", "annotations": {"x": "y"}})
        );
        assert_eq!(v["spec"], json!({"a": "1"}));
    }

    #[test]
    fn prune_table() {
        let cases = [
            (
                "unknown spec field dropped",
                json!({"spec": {"cronSpec": "* * * * */5", "bogus": 1}}),
                json!({"spec": {"cronSpec": "* * * * */5"}}),
            ),
            (
                "root keeps type and metadata",
                json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                    "metadata": {"name": "a"}, "other": true}),
                json!({"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                    "metadata": {"name": "a"}}),
            ),
            (
                "additionalProperties values kept, pruned by their schema",
                json!({"spec": {"labels": {"a": "b"}}}),
                json!({"spec": {"labels": {"a": "b"}}}),
            ),
            (
                "preserve-unknown-fields keeps everything below",
                json!({"spec": {"extra": {"x": {"y": 1}}}}),
                json!({"spec": {"extra": {"x": {"y": 1}}}}),
            ),
            (
                "array items pruned",
                json!({"spec": {"steps": [{"name": "a", "junk": 1}]}}),
                json!({"spec": {"steps": [{"name": "a"}]}}),
            ),
            (
                "embedded resource keeps apiVersion, kind, metadata; prunes the rest",
                json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p"}, "spec": {"any": 1}, "junk": 2}}}),
                json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p"}, "spec": {}}}}),
            ),
        ];
        let schema = crontab_schema();
        for (name, mut given, want) in cases {
            prune(&schema, &mut given, true);
            assert_eq!(given, want, "{name}");
        }
    }

    #[test]
    fn default_table() {
        let cases = [
            (
                "missing field defaulted",
                json!({"spec": {}}),
                json!({"spec": {"replicas": 1, "note": "none"}}),
            ),
            (
                "given value kept",
                json!({"spec": {"replicas": 5, "note": "x"}}),
                json!({"spec": {"replicas": 5, "note": "x"}}),
            ),
            (
                "null kept when nullable, defaulted when not",
                json!({"spec": {"replicas": null, "note": null}}),
                json!({"spec": {"replicas": 1, "note": null}}),
            ),
            (
                "absent parent not created",
                json!({"metadata": {"name": "a"}}),
                json!({"metadata": {"name": "a"}}),
            ),
            (
                "array items defaulted",
                json!({"spec": {"replicas": 1, "note": "x", "steps": [{"name": "a"}]}}),
                json!({"spec": {"replicas": 1, "note": "x",
                    "steps": [{"name": "a", "retries": 3}]}}),
            ),
        ];
        let schema = crontab_schema();
        for (name, mut given, want) in cases {
            default(&schema, &mut given);
            assert_eq!(given, want, "{name}");
        }
    }
}
