//! Validation like the real API server's: every problem is a [`Cause`] naming the field path
//! (`spec.ports[0].port`) with the API server's wording.

mod apps;
mod batch;
mod core;
mod identity;
mod names;
mod networking;
mod policy;
mod rbac;

pub use self::apps::{controller_revision, daemon_set, deployment, replica_set, stateful_set};
pub use self::batch::{cron_job, job};
pub use self::core::{config_map, namespace, node, pod, pod_spec, service};
pub use self::identity::{secret, secret_update, service_account};
pub use self::networking::{endpoint_slice, ingress, ingress_class, lease, network_policy};
pub use self::policy::pod_disruption_budget;
pub use self::rbac::{
    binding_update, cluster_role, cluster_role_binding, review, role, role_binding,
};
pub use names::{
    dns1123_subdomain_problem, is_dns1123_label, is_dns1123_subdomain, qualified_name_problem,
};

use serde::Serialize;
use serde_json::Value;

/// One entry of a Status's `details.causes`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cause {
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

/// The causes collected while validating one object.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<Cause>);

// === impl Cause ===

impl Cause {
    pub fn required(field: &str) -> Self {
        Cause {
            reason: "FieldValueRequired",
            message: "Required value".into(),
            field: field.into(),
        }
    }
}

// === impl Errors ===

impl Errors {
    pub fn required(&mut self, field: &str) {
        self.0.push(Cause::required(field));
    }

    pub fn required_with(&mut self, field: &str, detail: &str) {
        self.0.push(Cause {
            reason: "FieldValueRequired",
            message: format!("Required value: {detail}"),
            field: field.into(),
        });
    }

    pub fn invalid(&mut self, field: &str, value: &Value, detail: &str) {
        self.0.push(Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {}: {detail}", go_value(value)),
            field: field.into(),
        });
    }

    pub fn not_supported(&mut self, field: &str, value: &Value, supported: &[&str]) {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        self.0.push(Cause {
            reason: "FieldValueNotSupported",
            message: format!(
                "Unsupported value: {}: supported values: {}",
                go_value(value),
                list.join(", ")
            ),
            field: field.into(),
        });
    }

    pub fn duplicate(&mut self, field: &str, value: &Value) {
        self.0.push(Cause {
            reason: "FieldValueDuplicate",
            message: format!("Duplicate value: {}", go_value(value)),
            field: field.into(),
        });
    }

    pub fn forbidden(&mut self, field: &str, detail: &str) {
        self.0.push(Cause {
            reason: "FieldValueForbidden",
            message: format!("Forbidden: {detail}"),
            field: field.into(),
        });
    }

    pub fn too_long(&mut self, field: &str, max: usize) {
        self.0.push(Cause {
            reason: "FieldValueTooLong",
            message: format!("Too long: must have at most {max} bytes"),
            field: field.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A value as the API server's messages print it: strings quoted, numbers bare, a list of
/// strings as Go's `%#v` does (`[]string{"10.96.0.10"}`).
pub(crate) fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let quoted: Vec<String> = items.iter().map(go_value).collect();
            format!("[]string{{{}}}", quoted.join(", "))
        }
        other => other.to_string(),
    }
}

/// Validates the metadata every object has. `label_name`: names must be DNS-1123 labels
/// (namespaces, services) rather than subdomains.
pub fn object_meta(obj: &Value, namespaced: bool, label_name: bool, errs: &mut Errors) {
    let meta = &obj["metadata"];
    if let Some(name) = meta["name"].as_str().filter(|n| !n.is_empty()) {
        let problem = if label_name {
            names::dns1123_label_problem(name)
        } else {
            names::dns1123_subdomain_problem(name)
        };
        if let Some(problem) = problem {
            errs.invalid("metadata.name", &meta["name"], &problem);
        }
    } else if meta["generateName"].as_str().is_none_or(str::is_empty) {
        errs.required_with("metadata.name", "name or generateName is required");
    }
    if !namespaced && meta["namespace"].as_str().is_some_and(|n| !n.is_empty()) {
        errs.forbidden("metadata.namespace", "not allowed on this type");
    }
    labels(&meta["labels"], "metadata.labels", errs);
    if let Some(annotations) = meta["annotations"].as_object() {
        for key in annotations.keys() {
            if let Some(problem) = names::qualified_name_problem(key) {
                errs.invalid(
                    "metadata.annotations",
                    &Value::String(key.clone()),
                    &problem,
                );
            }
        }
    }
}

/// A label map: qualified-name keys, label values.
pub fn labels(labels: &Value, field: &str, errs: &mut Errors) {
    let Some(map) = labels.as_object() else {
        return;
    };
    for (key, value) in map {
        if let Some(problem) = names::qualified_name_problem(key) {
            errs.invalid(field, &Value::String(key.clone()), &problem);
        }
        let text = value.as_str().unwrap_or("");
        if !podnet_apiserver_store::selector::is_label_value(text) {
            errs.invalid(
                &format!("{field}[{key}]"),
                value,
                "a valid label must be an empty string or consist of alphanumeric characters, \
                 '-', '_' or '.', and must start and end with an alphanumeric character \
                 (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
                 '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            );
        }
    }
}

/// A port number field: 1–65535.
pub fn port_number(value: &Value, field: &str, errs: &mut Errors) {
    match value.as_i64() {
        Some(p) if (1..=65535).contains(&p) => {}
        Some(_) => errs.invalid(field, value, "must be between 1 and 65535, inclusive"),
        None => errs.required(field),
    }
}

pub fn protocol(value: &Value, field: &str, errs: &mut Errors) {
    if let Some(p) = value.as_str()
        && !["TCP", "UDP", "SCTP"].contains(&p)
    {
        errs.not_supported(field, value, &["SCTP", "TCP", "UDP"]);
    }
}

/// `matchLabels` / `matchExpressions` of a metav1.LabelSelector.
pub fn label_selector(selector: &Value, field: &str, errs: &mut Errors) {
    labels(
        &selector["matchLabels"],
        &format!("{field}.matchLabels"),
        errs,
    );
    for (i, expr) in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{field}.matchExpressions[{i}]");
        let op = expr["operator"].as_str().unwrap_or("");
        let values = expr["values"].as_array().map_or(0, Vec::len);
        match op {
            "In" | "NotIn" if values == 0 => errs.required_with(
                &format!("{at}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ),
            "Exists" | "DoesNotExist" if values > 0 => errs.forbidden(
                &format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            _ => errs.not_supported(
                &format!("{at}.operator"),
                &expr["operator"],
                &["In", "NotIn", "Exists", "DoesNotExist"],
            ),
        }
    }
}

/// Whether a metav1.LabelSelector selects this label map (for a Deployment's template).
pub fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let exact = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| get(k) == v.as_str());
    let exprs = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("In") => get(key).is_some_and(|v| values.contains(&v)),
                Some("NotIn") => get(key).is_none_or(|v| !values.contains(&v)),
                Some("Exists") => get(key).is_some(),
                Some("DoesNotExist") => get(key).is_none(),
                _ => false,
            }
        });
    exact && exprs
}
