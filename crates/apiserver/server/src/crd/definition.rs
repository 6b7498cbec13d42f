//! A CustomResourceDefinition's own validation, as kube-apiserver's apiextensions
//! validation words it (422 naming the field), and its defaults (singular, listKind).

use serde_json::{Value, json};

use crate::validate::{self, Errors, is_dns1123_label};

const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric \
    characters or '-', start with an alphabetic character, and end with an alphanumeric \
    character (e.g. 'my-name',  or 'abc-123', regex used for validation is \
    '[a-z]([-a-z0-9]*[a-z0-9])?')";

const COLUMN_TYPES: [&str; 5] = ["boolean", "date", "integer", "number", "string"];

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The finalizer under which a deleted CRD's custom resources are removed before it goes.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The defaults upstream fills into a CRD: `names.singular` (the kind, lowercased),
/// `names.listKind` (kind + "List"), conversion strategy None; and the cleanup finalizer.
pub fn defaults(obj: &mut Value) {
    if !podnet_apiserver_store::meta::is_terminating(obj) {
        let meta = podnet_apiserver_store::meta::metadata_mut(obj);
        let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
        if let Some(list) = finalizers.as_array_mut()
            && !list.iter().any(|f| f == CLEANUP_FINALIZER)
        {
            list.push(CLEANUP_FINALIZER.into());
        }
    }
    let names = &mut obj["spec"]["names"];
    if let Some(kind) = names["kind"].as_str().map(str::to_string) {
        if names["singular"].as_str().is_none_or(str::is_empty) {
            names["singular"] = kind.to_lowercase().into();
        }
        if names["listKind"].as_str().is_none_or(str::is_empty) {
            names["listKind"] = format!("{kind}List").into();
        }
    }
    if obj["spec"].is_object() && obj["spec"]["conversion"].is_null() {
        obj["spec"]["conversion"] = json!({"strategy": "None"});
    }
}

/// Validates a CustomResourceDefinition (the `validate` of its RESOURCES row).
pub fn validate(obj: &Value, errs: &mut Errors) {
    validate::object_meta(obj, false, false, errs);
    let spec = &obj["spec"];
    let group = spec["group"].as_str().unwrap_or("");
    let plural = spec["names"]["plural"].as_str().unwrap_or("");
    if group.is_empty() {
        errs.required("spec.group");
    } else if let Some(problem) = validate::dns1123_subdomain_problem(group) {
        errs.invalid("spec.group", &spec["group"], &problem);
    } else if !group.contains('.') {
        errs.invalid(
            "spec.group",
            &spec["group"],
            "should be a domain with at least one dot",
        );
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.invalid(
            "metadata.name",
            &obj["metadata"]["name"],
            "must be spec.names.plural+\".\"+spec.group",
        );
    }
    match spec["scope"].as_str() {
        None | Some("") => errs.required("spec.scope"),
        Some("Namespaced" | "Cluster") => {}
        Some(_) => errs.not_supported("spec.scope", &spec["scope"], &["Cluster", "Namespaced"]),
    }
    names(&spec["names"], errs);
    versions(spec, errs);
    if let Some(strategy) = spec["conversion"]["strategy"].as_str()
        && strategy != "None"
    {
        errs.forbidden(
            "spec.conversion.strategy",
            &format!(
                "conversion strategy {strategy:?} is not supported by this API server \
                 (no conversion webhooks): use \"None\""
            ),
        );
    }
}

fn names(names: &Value, errs: &mut Errors) {
    for field in ["plural", "singular"] {
        let at = format!("spec.names.{field}");
        match names[field].as_str() {
            None | Some("") if field == "plural" => errs.required(&at),
            Some(s) if !s.is_empty() && !is_dns1035_label(s) => {
                errs.invalid(&at, &names[field], DNS1035_MSG)
            }
            _ => {}
        }
    }
    for field in ["kind", "listKind"] {
        let at = format!("spec.names.{field}");
        match names[field].as_str() {
            None | Some("") => errs.required(&at),
            Some(s) if !is_dns1035_label(&s.to_lowercase()) => errs.invalid(
                &at,
                &names[field],
                &format!("may have mixed case, but should otherwise match: {DNS1035_MSG}"),
            ),
            _ => {}
        }
    }
    if names["kind"].is_string() && names["kind"] == names["listKind"] {
        errs.invalid(
            "spec.names.listKind",
            &names["listKind"],
            "kind and listKind may not be the same",
        );
    }
    for (i, v) in names["shortNames"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !v.as_str().is_some_and(is_dns1035_label) {
            errs.invalid(&format!("spec.names.shortNames[{i}]"), v, DNS1035_MSG);
        }
    }
}

fn versions(spec: &Value, errs: &mut Errors) {
    let Some(versions) = spec["versions"].as_array().filter(|v| !v.is_empty()) else {
        errs.required_with(
            "spec.versions",
            "must have exactly one version marked as storage version",
        );
        return;
    };
    let storage = versions.iter().filter(|v| v["storage"] == true).count();
    if storage != 1 {
        errs.invalid(
            "spec.versions",
            &json!(storage),
            "must have exactly one version marked as storage version",
        );
    }
    if !versions.iter().any(|v| v["served"] == true) {
        errs.invalid(
            "spec.versions",
            &json!(0),
            "must have at least one version served",
        );
    }
    for (i, v) in versions.iter().enumerate() {
        let at = format!("spec.versions[{i}]");
        match v["name"].as_str() {
            None | Some("") => errs.required(&format!("{at}.name")),
            Some(name) if !is_dns1035_label(name) => {
                errs.invalid(&format!("{at}.name"), &v["name"], DNS1035_MSG)
            }
            Some(_) if versions[..i].iter().any(|o| o["name"] == v["name"]) => {
                errs.duplicate(&format!("{at}.name"), &v["name"])
            }
            _ => {}
        }
        let schema_at = format!("{at}.schema.openAPIV3Schema");
        match v["schema"]["openAPIV3Schema"].as_object() {
            None => errs.required_with(&schema_at, "schemas are required"),
            Some(_) => {
                let schema = &v["schema"]["openAPIV3Schema"];
                if schema["type"] != "object" {
                    errs.required_with(&format!("{schema_at}.type"), "must be object at the root");
                }
                structural(schema, &schema_at, errs);
            }
        }
        subresources(&v["subresources"], &format!("{at}.subresources"), errs);
        columns(
            &v["additionalPrinterColumns"],
            &format!("{at}.additionalPrinterColumns"),
            errs,
        );
    }
}

/// A structural schema gives every specified field a type (unless it is int-or-string or
/// keeps unknown fields).
fn structural(schema: &Value, at: &str, errs: &mut Errors) {
    let children = schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, s)| (format!("{at}.properties[{k}]"), s))
        .chain(schema.get("items").map(|s| (format!("{at}.items"), s)))
        .chain(
            schema
                .get("additionalProperties")
                .filter(|s| s.is_object())
                .map(|s| (format!("{at}.additionalProperties"), s)),
        );
    for (path, child) in children {
        let typed = child["type"].as_str().is_some_and(|t| !t.is_empty());
        let exempt = child["x-kubernetes-int-or-string"] == true
            || child["x-kubernetes-preserve-unknown-fields"] == true;
        if !typed && !exempt {
            errs.required_with(
                &format!("{path}.type"),
                "must not be empty for specified object fields",
            );
        }
        structural(child, &path, errs);
    }
}

fn subresources(sub: &Value, at: &str, errs: &mut Errors) {
    let scale = &sub["scale"];
    if !scale.is_object() {
        return;
    }
    for (field, prefix) in [
        ("specReplicasPath", ".spec."),
        ("statusReplicasPath", ".status."),
    ] {
        match scale[field].as_str() {
            None | Some("") => errs.required(&format!("{at}.scale.{field}")),
            Some(p) if !p.starts_with(prefix) => errs.invalid(
                &format!("{at}.scale.{field}"),
                &scale[field],
                &format!(
                    "should be a json path under {}",
                    prefix.trim_end_matches('.')
                ),
            ),
            _ => {}
        }
    }
}

fn columns(columns: &Value, at: &str, errs: &mut Errors) {
    for (i, c) in columns.as_array().into_iter().flatten().enumerate() {
        let at = format!("{at}[{i}]");
        for field in ["name", "type", "jsonPath"] {
            if c[field].as_str().is_none_or(str::is_empty) {
                errs.required(&format!("{at}.{field}"));
            }
        }
        if let Some(t) = c["type"].as_str()
            && !t.is_empty()
            && !COLUMN_TYPES.contains(&t)
        {
            errs.not_supported(&format!("{at}.type"), &c["type"], &COLUMN_TYPES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crontab() -> Value {
        json!({"metadata": {"name": "crontabs.stable.example.com"}, "spec": {
            "group": "stable.example.com", "scope": "Namespaced",
            "names": {"plural": "crontabs", "kind": "CronTab", "shortNames": ["ct"]},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}}}}]
        }})
    }

    fn fields(obj: Value) -> Vec<String> {
        let mut obj = obj;
        defaults(&mut obj);
        let mut errs = Errors::default();
        validate(&obj, &mut errs);
        errs.0
            .into_iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn definition_table() {
        type Case = (&'static str, fn(&mut Value), Vec<&'static str>);
        let cases: Vec<Case> = vec![
            ("valid", |_| {}, vec![]),
            (
                "name must be plural.group",
                |o| o["metadata"]["name"] = "crontab.example.com".into(),
                vec![
                    "metadata.name: Invalid value: \"crontab.example.com\": must be spec.names.plural+\".\"+spec.group",
                ],
            ),
            (
                "group needs a dot",
                |o| {
                    o["spec"]["group"] = "example".into();
                    o["metadata"]["name"] = "crontabs.example".into();
                },
                vec![
                    "spec.group: Invalid value: \"example\": should be a domain with at least one dot",
                ],
            ),
            (
                "scope",
                |o| o["spec"]["scope"] = "Global".into(),
                vec![
                    "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespaced\"",
                ],
            ),
            (
                "one storage version",
                |o| o["spec"]["versions"][0]["storage"] = false.into(),
                vec![
                    "spec.versions: Invalid value: 0: must have exactly one version marked as storage version",
                ],
            ),
            (
                "schema required",
                |o| o["spec"]["versions"][0]["schema"] = Value::Null,
                vec![
                    "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required",
                ],
            ),
            (
                "structural: types required",
                |o| {
                    o["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
                        ["x"] = json!({});
                },
                vec![
                    "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not be empty for specified object fields",
                ],
            ),
            (
                "webhook conversion refused",
                |o| o["spec"]["conversion"] = json!({"strategy": "Webhook"}),
                vec![
                    "spec.conversion.strategy: Forbidden: conversion strategy \"Webhook\" is not supported by this API server (no conversion webhooks): use \"None\"",
                ],
            ),
            (
                "bad short name",
                |o| o["spec"]["names"]["shortNames"] = json!(["C_T"]),
                vec!["spec.names.shortNames[0]: Invalid value: \"C_T\": a DNS-1035 label"],
            ),
        ];
        for (name, edit, want) in cases {
            let mut obj = crontab();
            edit(&mut obj);
            let got = fields(obj);
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.starts_with(w), "{name}: {g:?} does not start with {w:?}");
            }
        }
    }

    #[test]
    fn defaults_fill_singular_and_list_kind() {
        let mut obj = crontab();
        defaults(&mut obj);
        assert_eq!(obj["spec"]["names"]["singular"], "crontab");
        assert_eq!(obj["spec"]["names"]["listKind"], "CronTabList");
    }
}
