//! The Ingress kinds' rows (kubectl's printIngress, printIngressClass).

use serde_json::{Value, json};

use super::{age, name};

/// CLASS, HOSTS (three, then `+ N more...`; `*` for none), ADDRESS, PORTS (`80`, and
/// `443` with spec.tls), AGE.
pub(super) fn ingress(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let class = spec["ingressClassName"].as_str().unwrap_or("<none>");
    let rules = spec["rules"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let hosts: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["host"].as_str())
        .filter(|h| !h.is_empty())
        .take(3)
        .collect();
    let hosts = match (hosts.is_empty(), rules.len() > 3) {
        (true, _) => "*".to_owned(),
        (false, false) => hosts.join(","),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
    };
    let address: Vec<&str> = obj["status"]["loadBalancer"]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["ip"].as_str().or_else(|| i["hostname"].as_str()))
        .collect();
    let tls = spec["tls"].as_array().is_some_and(|t| !t.is_empty());
    vec![
        name(obj),
        json!(class),
        json!(hosts),
        json!(address.join(",")),
        json!(if tls { "80, 443" } else { "80" }),
        age(obj, now),
    ]
}

/// CONTROLLER, PARAMETERS (`Kind[.group]/name` or `<none>`), AGE.
pub(super) fn ingress_class(obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let spec = &obj["spec"];
    let p = &spec["parameters"];
    let parameters = match p["kind"].as_str() {
        None => "<none>".to_owned(),
        Some(kind) => match p["apiGroup"].as_str() {
            Some(group) => format!("{kind}.{group}/{}", p["name"].as_str().unwrap_or("")),
            None => format!("{kind}/{}", p["name"].as_str().unwrap_or("")),
        },
    };
    vec![
        name(obj),
        json!(spec["controller"].as_str().unwrap_or("")),
        json!(parameters),
        age(obj, now),
    ]
}
