//! discovery.k8s.io, networking.k8s.io and coordination.k8s.io kinds.

use serde_json::Value;

use super::names::port_name_problem;
use super::{Errors, label_selector, object_meta, port_number, protocol};

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

pub fn endpoint_slice(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let address_type = obj["addressType"].as_str();
    match address_type {
        None => errs.required("addressType"),
        Some(t) if !ADDRESS_TYPES.contains(&t) => {
            errs.not_supported("addressType", &obj["addressType"], ADDRESS_TYPES)
        }
        _ => {}
    }
    let endpoints = obj["endpoints"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if endpoints.len() > 1000 {
        errs.0.push(super::Cause {
            reason: "FieldValueTooMany",
            message: format!(
                "Too many: {}: must have at most 1000 items",
                endpoints.len()
            ),
            field: "endpoints".into(),
        });
    }
    for (i, ep) in endpoints.iter().enumerate() {
        let addresses = ep["addresses"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if addresses.is_empty() {
            errs.required(&format!("endpoints[{i}].addresses"));
        }
        for (j, a) in addresses.iter().enumerate() {
            let text = a.as_str().unwrap_or("");
            let ok = match address_type {
                Some("IPv4") => text.parse::<std::net::Ipv4Addr>().is_ok(),
                Some("IPv6") => text.parse::<std::net::Ipv6Addr>().is_ok(),
                _ => true,
            };
            if !ok {
                errs.invalid(
                    &format!("endpoints[{i}].addresses[{j}]"),
                    a,
                    &format!("must be a valid {} address", address_type.unwrap_or("IP")),
                );
            }
        }
    }
    for (i, p) in obj["ports"].as_array().into_iter().flatten().enumerate() {
        if !p["port"].is_null() {
            port_number(&p["port"], &format!("ports[{i}].port"), errs);
        }
        protocol(&p["protocol"], &format!("ports[{i}].protocol"), errs);
    }
}

pub fn network_policy(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    label_selector(&spec["podSelector"], "spec.podSelector", errs);
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in spec[dir].as_array().into_iter().flatten().enumerate() {
            for (j, port) in rule["ports"].as_array().into_iter().flatten().enumerate() {
                let at = format!("spec.{dir}[{i}].ports[{j}]");
                protocol(&port["protocol"], &format!("{at}.protocol"), errs);
                match &port["port"] {
                    Value::Null => {}
                    Value::String(name) => {
                        if let Some(problem) = port_name_problem(name) {
                            errs.invalid(&format!("{at}.port"), &port["port"], problem);
                        }
                    }
                    n => port_number(n, &format!("{at}.port"), errs),
                }
            }
            for (j, peer) in rule[peers].as_array().into_iter().flatten().enumerate() {
                let at = format!("spec.{dir}[{i}].{peers}[{j}]");
                label_selector(&peer["podSelector"], &format!("{at}.podSelector"), errs);
                label_selector(
                    &peer["namespaceSelector"],
                    &format!("{at}.namespaceSelector"),
                    errs,
                );
                if let Some(cidr) = peer["ipBlock"]["cidr"].as_str()
                    && !is_cidr(cidr)
                {
                    errs.invalid(
                        &format!("{at}.ipBlock.cidr"),
                        &peer["ipBlock"]["cidr"],
                        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                    );
                }
            }
        }
    }
    for (i, t) in spec["policyTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !matches!(t.as_str(), Some("Ingress" | "Egress")) {
            errs.not_supported(&format!("spec.policyTypes[{i}]"), t, &["Egress", "Ingress"]);
        }
    }
}

pub(super) fn is_cidr(s: &str) -> bool {
    s.split_once('/').is_some_and(|(ip, len)| {
        let max = match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(_)) => 32,
            Ok(std::net::IpAddr::V6(_)) => 128,
            Err(_) => return false,
        };
        len.parse::<u8>().is_ok_and(|l| l <= max)
    })
}

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

pub fn ingress(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    let spec = &obj["spec"];
    if !spec["defaultBackend"].is_null() {
        backend(&spec["defaultBackend"], "spec.defaultBackend", errs);
    }
    for (i, rule) in spec["rules"].as_array().into_iter().flatten().enumerate() {
        if let Some(host) = rule["host"].as_str()
            && host.parse::<std::net::IpAddr>().is_ok()
        {
            errs.invalid(
                &format!("spec.rules[{i}].host"),
                &rule["host"],
                "must be a DNS name, not an IP address",
            );
        }
        for (j, path) in rule["http"]["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("spec.rules[{i}].http.paths[{j}]");
            match path["pathType"].as_str() {
                None => errs.required(&format!("{at}.pathType")),
                Some(t) if !PATH_TYPES.contains(&t) => {
                    errs.not_supported(&format!("{at}.pathType"), &path["pathType"], PATH_TYPES)
                }
                _ => {}
            }
            if path["pathType"].as_str() != Some("ImplementationSpecific")
                && !path["path"].as_str().is_some_and(|p| p.starts_with('/'))
            {
                errs.invalid(
                    &format!("{at}.path"),
                    &path["path"],
                    "must be an absolute path",
                );
            }
            backend(&path["backend"], &format!("{at}.backend"), errs);
        }
    }
}

fn backend(b: &Value, at: &str, errs: &mut Errors) {
    let service = &b["service"];
    if service.is_null() && b["resource"].is_null() {
        errs.0.push(super::Cause {
            reason: "FieldValueInvalid",
            message: "Invalid value: \"\": cannot set both resource and service backends".into(),
            field: at.into(),
        });
        return;
    }
    if !service.is_null() {
        if service["name"].as_str().is_none_or(str::is_empty) {
            errs.required(&format!("{at}.service.name"));
        }
        let port = &service["port"];
        match (&port["number"], port["name"].as_str()) {
            (Value::Null, None) => errs.required(&format!("{at}.service.port")),
            (Value::Null, Some(name)) => {
                if let Some(problem) = port_name_problem(name) {
                    errs.invalid(&format!("{at}.service.port.name"), &port["name"], problem);
                }
            }
            (n, None) => port_number(n, &format!("{at}.service.port.number"), errs),
            (_, Some(_)) => errs.invalid(
                &format!("{at}.service.port"),
                port,
                "cannot set both port name & port number",
            ),
        }
    }
}

pub fn ingress_class(obj: &Value, errs: &mut Errors) {
    object_meta(obj, false, false, errs);
    match obj["spec"]["controller"].as_str() {
        None | Some("") => errs.required("spec.controller"),
        Some(c) if c.len() > 250 => errs.invalid(
            "spec.controller",
            &obj["spec"]["controller"],
            "must be no more than 250 characters",
        ),
        _ => {}
    }
}

pub fn lease(obj: &Value, errs: &mut Errors) {
    object_meta(obj, true, false, errs);
    if let Some(d) = obj["spec"]["leaseDurationSeconds"].as_i64()
        && d <= 0
    {
        errs.invalid(
            "spec.leaseDurationSeconds",
            &obj["spec"]["leaseDurationSeconds"],
            "must be greater than 0",
        );
    }
}
