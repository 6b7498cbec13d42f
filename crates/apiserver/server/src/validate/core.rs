//! core/v1 kinds.

use std::collections::HashSet;

use serde_json::Value;

use super::names::{dns1123_label_problem, port_name_problem};
use super::{Errors, labels, object_meta, port_number, protocol};

pub fn namespace(obj: &Value, errs: &mut Errors) {
    object_meta(obj, false, true, errs);
}

pub fn node(obj: &Value, errs: &mut Errors) {
    object_meta(obj, false, false, errs);
    if let Some(cidr) = obj["spec"]["podCIDR"].as_str()
        && !cidr.is_empty()
        && !super::networking::is_cidr(cidr)
    {
        errs.invalid(
            "spec.podCIDR",
            &obj["spec"]["podCIDR"],
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        );
    }
}

pub fn config_map(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    for section in ["data", "binaryData"] {
        for key in obj[section]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            config_key(key, &format!("{section}[{key}]"), errs);
        }
    }
}

/// A key of a ConfigMap's or a Secret's data (upstream's `IsConfigMapKey`).
pub(super) fn config_key(key: &str, field: &str, errs: &mut Errors) {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        errs.invalid(
            field,
            &Value::String(key.into()),
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' \
             (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation \
             is '[-._a-zA-Z0-9]+')",
        );
    }
}

pub fn pod(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    pod_spec(&obj["spec"], "spec", errs);
}

pub fn pod_spec(spec: &Value, at: &str, errs: &mut Errors) {
    let containers = spec["containers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if containers.is_empty() {
        errs.required(&format!("{at}.containers"));
    }
    let mut names = HashSet::new();
    for (list, items) in [
        (
            "initContainers",
            spec["initContainers"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        ),
        ("containers", containers),
    ] {
        for (i, c) in items.iter().enumerate() {
            let field = format!("{at}.{list}[{i}]");
            container(c, &field, &mut names, errs);
        }
    }
    if let Some(policy) = spec["restartPolicy"].as_str()
        && !["Always", "OnFailure", "Never"].contains(&policy)
    {
        errs.not_supported(
            &format!("{at}.restartPolicy"),
            &spec["restartPolicy"],
            &["Always", "OnFailure", "Never"],
        );
    }
    if let Some(policy) = spec["dnsPolicy"].as_str()
        && !["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"].contains(&policy)
    {
        errs.not_supported(
            &format!("{at}.dnsPolicy"),
            &spec["dnsPolicy"],
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        );
    }
    if let Some(grace) = spec["terminationGracePeriodSeconds"].as_i64()
        && grace < 0
    {
        errs.invalid(
            &format!("{at}.terminationGracePeriodSeconds"),
            &spec["terminationGracePeriodSeconds"],
            "must be greater than or equal to 0",
        );
    }
    labels(&spec["nodeSelector"], &format!("{at}.nodeSelector"), errs);
    for field in ["hostname", "subdomain"] {
        if let Some(v) = spec[field].as_str()
            && let Some(problem) = dns1123_label_problem(v)
        {
            errs.invalid(&format!("{at}.{field}"), &spec[field], &problem);
        }
    }
}

fn container(c: &Value, at: &str, names: &mut HashSet<String>, errs: &mut Errors) {
    match c["name"].as_str().filter(|n| !n.is_empty()) {
        None => errs.required(&format!("{at}.name")),
        Some(name) => {
            if let Some(problem) = dns1123_label_problem(name) {
                errs.invalid(&format!("{at}.name"), &c["name"], &problem);
            } else if !names.insert(name.to_string()) {
                errs.duplicate(&format!("{at}.name"), &c["name"]);
            }
        }
    }
    if c["image"].as_str().is_none_or(|i| i.trim().is_empty()) {
        errs.required(&format!("{at}.image"));
    }
    let mut port_names = HashSet::new();
    for (i, p) in c["ports"].as_array().into_iter().flatten().enumerate() {
        let field = format!("{at}.ports[{i}]");
        port_number(&p["containerPort"], &format!("{field}.containerPort"), errs);
        if !p["hostPort"].is_null() && p["hostPort"].as_i64() != Some(0) {
            port_number(&p["hostPort"], &format!("{field}.hostPort"), errs);
        }
        protocol(&p["protocol"], &format!("{field}.protocol"), errs);
        if let Some(name) = p["name"].as_str() {
            if let Some(problem) = port_name_problem(name) {
                errs.invalid(&format!("{field}.name"), &p["name"], problem);
            } else if !port_names.insert(name.to_string()) {
                errs.duplicate(&format!("{field}.name"), &p["name"]);
            }
        }
    }
    for (i, e) in c["env"].as_array().into_iter().flatten().enumerate() {
        if e["name"].as_str().is_none_or(str::is_empty) {
            errs.required(&format!("{at}.env[{i}].name"));
        }
    }
    if let Some(policy) = c["imagePullPolicy"].as_str()
        && !["Always", "IfNotPresent", "Never"].contains(&policy)
    {
        errs.not_supported(
            &format!("{at}.imagePullPolicy"),
            &c["imagePullPolicy"],
            &["Always", "IfNotPresent", "Never"],
        );
    }
}

const SERVICE_TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

pub fn service(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, true, errs);
    let spec = &obj["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP");
    if !SERVICE_TYPES.contains(&kind) {
        errs.not_supported("spec.type", &spec["type"], SERVICE_TYPES);
    }
    let ports = spec["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let headless = spec["clusterIP"].as_str() == Some("None");
    if ports.is_empty() && kind != "ExternalName" && !headless {
        errs.required("spec.ports");
    }
    if kind == "ExternalName" && spec["externalName"].as_str().is_none_or(str::is_empty) {
        errs.required("spec.externalName");
    }
    let mut names = HashSet::new();
    let mut seen = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match p["name"].as_str().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => errs.required(&format!("{at}.name")),
            None => {}
            Some(name) => {
                if let Some(problem) = dns1123_label_problem(name) {
                    errs.invalid(&format!("{at}.name"), &p["name"], &problem);
                } else if !names.insert(name.to_string()) {
                    errs.duplicate(&format!("{at}.name"), &p["name"]);
                }
            }
        }
        port_number(&p["port"], &format!("{at}.port"), errs);
        protocol(&p["protocol"], &format!("{at}.protocol"), errs);
        let key = (
            p["port"].as_i64(),
            p["protocol"].as_str().unwrap_or("TCP").to_string(),
        );
        if !seen.insert(key) {
            errs.duplicate(
                &at,
                &Value::String(format!(
                    "{}/{}",
                    p["port"],
                    p["protocol"].as_str().unwrap_or("TCP")
                )),
            );
        }
        match &p["targetPort"] {
            Value::Null => {}
            Value::String(name) => {
                if let Some(problem) = port_name_problem(name) {
                    errs.invalid(&format!("{at}.targetPort"), &p["targetPort"], problem);
                }
            }
            other => port_number(other, &format!("{at}.targetPort"), errs),
        }
        match (&p["nodePort"], kind) {
            (Value::Null, _) => {}
            (n, "NodePort" | "LoadBalancer") if n.as_i64() != Some(0) => {
                port_number(n, &format!("{at}.nodePort"), errs)
            }
            (n, "ClusterIP") if n.as_i64() != Some(0) => errs.forbidden(
                &format!("{at}.nodePort"),
                "may not be used when `type` is 'ClusterIP'",
            ),
            _ => {}
        }
    }
    if let Some(selector) = spec["selector"].as_object() {
        labels(&Value::Object(selector.clone()), "spec.selector", errs);
    }
    if let Some(affinity) = spec["sessionAffinity"].as_str()
        && !["ClientIP", "None"].contains(&affinity)
    {
        errs.not_supported(
            "spec.sessionAffinity",
            &spec["sessionAffinity"],
            &["ClientIP", "None"],
        );
    }
    if let Some(ip) = spec["clusterIP"].as_str()
        && !ip.is_empty()
        && ip != "None"
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        errs.invalid(
            "spec.clusterIPs[0]",
            &spec["clusterIP"],
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        );
    }
}
