//! Validation of a custom resource against its structural schema, with the messages
//! kube-openapi's validator gives (`spec.replicas in body should be less than or equal to
//! 10`) under the field path, as upstream's 422 carries them. `x-kubernetes-validations`
//! (CEL rules) are not evaluated.

use std::net::IpAddr;

use serde_json::Value;

use super::schema::{additional, embedded, nullable};
use crate::validate::{Cause, Errors, go_value};

/// Checks `value` at `path` (empty for the object itself) against `schema`.
pub fn check(schema: &Value, value: &Value, path: &str, errs: &mut Errors) {
    if value.is_null() {
        if !nullable(schema) && schema.get("type").is_some() {
            type_invalid(path, "null", schema_type(schema), errs);
        }
        return;
    }
    if schema["x-kubernetes-int-or-string"] == true {
        if !(is_integer(value) || value.is_string()) {
            type_invalid(path, type_name(value), "integer-or-string", errs);
        }
    } else if let Some(want) = schema["type"].as_str()
        && !has_type(value, want)
    {
        type_invalid(path, type_name(value), want, errs);
        return;
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(go_value).collect();
        errs.0.push(Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {}: supported values: {}",
                go_value(value),
                list.join(", ")
            ),
            field: path.into(),
        });
    }
    match value {
        Value::String(s) => check_string(schema, s, value, path, errs),
        Value::Number(n) => check_number(schema, n.as_f64().unwrap_or(0.0), value, path, errs),
        Value::Array(items) => check_array(schema, items, value, path, errs),
        Value::Object(map) => {
            for key in schema["required"].as_array().into_iter().flatten() {
                let key = key.as_str().unwrap_or("");
                if !map.contains_key(key) {
                    errs.required(&join(path, key));
                }
            }
            if embedded(schema) {
                for key in ["apiVersion", "kind"] {
                    if map
                        .get(key)
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                    {
                        errs.required(&join(path, key));
                    }
                }
            }
            let properties = schema["properties"].as_object();
            for (key, v) in map {
                let sub = properties.and_then(|p| p.get(key)).or(additional(schema));
                if let Some(sub) = sub {
                    check(sub, v, &join(path, key), errs);
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_integer(v: &Value) -> bool {
    v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
}

fn has_type(v: &Value, want: &str) -> bool {
    match want {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => is_integer(v),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        _ => true,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integer(v) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn schema_type(schema: &Value) -> &str {
    schema["type"].as_str().unwrap_or("")
}

/// kube-openapi's `in body must be of type T: "actual"`, which upstream reports as TypeInvalid.
fn type_invalid(path: &str, actual: &str, want: &str, errs: &mut Errors) {
    errs.0.push(Cause {
        reason: "FieldValueTypeInvalid",
        message: format!(
            "Invalid value: \"{actual}\": {path} in body must be of type {want}: \"{actual}\""
        ),
        field: path.into(),
    });
}

fn in_body(path: &str, value: &Value, detail: String, errs: &mut Errors) {
    errs.invalid(path, value, &format!("{path} in body {detail}"));
}

fn check_string(schema: &Value, s: &str, value: &Value, path: &str, errs: &mut Errors) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema["maxLength"].as_u64()
        && len > max
    {
        errs.0.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: may not be more than {max} bytes"),
            field: path.into(),
        });
    }
    if let Some(min) = schema["minLength"].as_u64()
        && len < min
    {
        in_body(
            path,
            value,
            format!("should be at least {min} chars long"),
            errs,
        );
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        match regex::Regex::new(pattern) {
            Ok(re) if !re.is_match(s) => {
                in_body(path, value, format!("should match '{pattern}'"), errs);
            }
            Ok(_) => {}
            Err(_) => in_body(
                path,
                value,
                format!("has an invalid pattern '{pattern}'"),
                errs,
            ),
        }
    }
    if let Some(format) = schema["format"].as_str()
        && !format_ok(format, s)
    {
        in_body(
            path,
            value,
            format!("must be of type {format}: {s:?}"),
            errs,
        );
    }
}

/// The formats upstream checks that clients use in practice; others pass unchecked.
fn format_ok(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "ip" => s.parse::<IpAddr>().is_ok(),
        "cidr" => s.parse::<ipnet::IpNet>().is_ok(),
        "hostname" => crate::validate::is_dns1123_subdomain(s),
        "uuid" => is_uuid(s),
        _ => true,
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_number(schema: &Value, n: f64, value: &Value, path: &str, errs: &mut Errors) {
    if let Some(max) = schema["maximum"].as_f64() {
        let exclusive = schema["exclusiveMaximum"] == true;
        if exclusive && n >= max {
            in_body(
                path,
                value,
                format!("should be less than {}", schema["maximum"]),
                errs,
            );
        } else if n > max {
            let bound = &schema["maximum"];
            in_body(
                path,
                value,
                format!("should be less than or equal to {bound}"),
                errs,
            );
        }
    }
    if let Some(min) = schema["minimum"].as_f64() {
        let exclusive = schema["exclusiveMinimum"] == true;
        if exclusive && n <= min {
            in_body(
                path,
                value,
                format!("should be greater than {}", schema["minimum"]),
                errs,
            );
        } else if n < min {
            let bound = &schema["minimum"];
            in_body(
                path,
                value,
                format!("should be greater than or equal to {bound}"),
                errs,
            );
        }
    }
}

fn check_array(schema: &Value, items: &[Value], value: &Value, path: &str, errs: &mut Errors) {
    let len = items.len() as u64;
    if let Some(max) = schema["maxItems"].as_u64()
        && len > max
    {
        errs.0.push(Cause {
            reason: "FieldValueTooMany",
            message: format!("Too many: {len}: must have at most {max} items"),
            field: path.into(),
        });
    }
    if let Some(min) = schema["minItems"].as_u64()
        && len < min
    {
        in_body(
            path,
            value,
            format!("should have at least {min} items"),
            errs,
        );
    }
    match schema["x-kubernetes-list-type"].as_str() {
        Some("set") => {
            for (i, v) in items.iter().enumerate() {
                if items[..i].contains(v) {
                    errs.duplicate(&format!("{path}[{i}]"), v);
                }
            }
        }
        Some("map") => {
            let keys: Vec<&str> = schema["x-kubernetes-list-map-keys"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let key_of = |v: &Value| keys.iter().map(|k| v[*k].clone()).collect::<Vec<_>>();
            for (i, v) in items.iter().enumerate() {
                let key = key_of(v);
                if items[..i].iter().any(|o| key_of(o) == key) {
                    let shown: serde_json::Map<String, Value> = keys
                        .iter()
                        .map(|k| (k.to_string(), v[*k].clone()))
                        .collect();
                    errs.duplicate(&format!("{path}[{i}]"), &Value::Object(shown));
                }
            }
        }
        _ => {}
    }
    if let Some(item) = schema.get("items") {
        for (i, v) in items.iter().enumerate() {
            check(item, v, &format!("{path}[{i}]"), errs);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "required": ["spec"], "properties": {
            "spec": {"type": "object", "required": ["cronSpec"], "properties": {
                "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
                "image": {"type": "string", "minLength": 1, "maxLength": 10},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMinimum": true, "minimum": 0},
                "mode": {"type": "string", "enum": ["A", "B"]},
                "port": {"x-kubernetes-int-or-string": true},
                "when": {"type": "string", "format": "date-time"},
                "note": {"type": "string", "nullable": true},
                "tags": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "set",
                    "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port"],
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                    "x-kubernetes-preserve-unknown-fields": true}
            }}
        }})
    }

    fn messages(obj: Value) -> Vec<(String, String)> {
        let mut errs = Errors::default();
        check(&schema(), &obj, "", &mut errs);
        errs.0.into_iter().map(|c| (c.field, c.message)).collect()
    }

    fn spec(extra: Value) -> Value {
        let mut spec = json!({"cronSpec": "* * * * */5"});
        spec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"spec": spec})
    }

    #[test]
    fn check_table() {
        type Case = (&'static str, Value, Vec<(&'static str, &'static str)>);
        let cases: Vec<Case> = vec![
            (
                "valid",
                spec(json!({"image": "nginx", "replicas": 3, "port": "http"})),
                vec![],
            ),
            (
                "required at the root",
                json!({}),
                vec![("spec", "Required value")],
            ),
            (
                "required nested",
                json!({"spec": {}}),
                vec![("spec.cronSpec", "Required value")],
            ),
            (
                "type",
                spec(json!({"replicas": "three"})),
                vec![(
                    "spec.replicas",
                    "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"",
                )],
            ),
            (
                "maximum",
                spec(json!({"replicas": 11})),
                vec![(
                    "spec.replicas",
                    "Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                )],
            ),
            (
                "minimum",
                spec(json!({"replicas": 0})),
                vec![(
                    "spec.replicas",
                    "Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
                )],
            ),
            (
                "exclusive minimum",
                spec(json!({"ratio": 0})),
                vec![(
                    "spec.ratio",
                    "Invalid value: 0: spec.ratio in body should be greater than 0",
                )],
            ),
            (
                "maxLength",
                spec(json!({"image": "a-very-long-image"})),
                vec![("spec.image", "Too long: may not be more than 10 bytes")],
            ),
            (
                "minLength",
                spec(json!({"image": ""})),
                vec![(
                    "spec.image",
                    "Invalid value: \"\": spec.image in body should be at least 1 chars long",
                )],
            ),
            (
                "pattern",
                json!({"spec": {"cronSpec": "never"}}),
                vec![(
                    "spec.cronSpec",
                    "Invalid value: \"never\": spec.cronSpec in body should match '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
                )],
            ),
            (
                "enum",
                spec(json!({"mode": "C"})),
                vec![(
                    "spec.mode",
                    "Unsupported value: \"C\": supported values: \"A\", \"B\"",
                )],
            ),
            (
                "int-or-string",
                spec(json!({"port": true})),
                vec![(
                    "spec.port",
                    "Invalid value: \"boolean\": spec.port in body must be of type integer-or-string: \"boolean\"",
                )],
            ),
            (
                "format",
                spec(json!({"when": "yesterday"})),
                vec![(
                    "spec.when",
                    "Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
                )],
            ),
            ("nullable", spec(json!({"note": null})), vec![]),
            (
                "not nullable",
                spec(json!({"image": null})),
                vec![(
                    "spec.image",
                    "Invalid value: \"null\": spec.image in body must be of type string: \"null\"",
                )],
            ),
            (
                "maxItems",
                spec(json!({"tags": ["a", "b", "c"]})),
                vec![("spec.tags", "Too many: 3: must have at most 2 items")],
            ),
            (
                "set duplicates",
                spec(json!({"tags": ["a", "a"]})),
                vec![("spec.tags[1]", "Duplicate value: \"a\"")],
            ),
            (
                "map keys duplicates",
                spec(json!({"ports": [{"port": 80}, {"port": 80}]})),
                vec![("spec.ports[1]", "Duplicate value: {\"port\":80}")],
            ),
            (
                "embedded resource needs its type",
                spec(json!({"template": {"spec": {}}})),
                vec![
                    ("spec.template.apiVersion", "Required value"),
                    ("spec.template.kind", "Required value"),
                ],
            ),
        ];
        for (name, obj, want) in cases {
            let want: Vec<(String, String)> = want
                .into_iter()
                .map(|(f, m)| (f.into(), m.into()))
                .collect();
            assert_eq!(messages(obj), want, "{name}");
        }
    }
}
