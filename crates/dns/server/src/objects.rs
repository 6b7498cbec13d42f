//! Cluster objects from a YAML file instead of an API server (`podnet dns --objects`):
//! for trying the server out, and for benchmarks that should not measure an API server.

use std::path::Path;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use podnet_dns_records::Catalog;
use podnet_k8s_model::{DnsEndpointSlice, DnsPod, DnsService, namespace_name};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Loads every Service, EndpointSlice, Namespace and Pod in a multi-document YAML file
/// (`kind: List` documents included) into `catalog`. Namespaces of the objects are created
/// implicitly. Returns how many objects were loaded.
pub fn load(path: &Path, catalog: &mut Catalog) -> Result<usize> {
    let bad = |reason: String| Error::Objects {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut n = 0;
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(&text).enumerate() {
        let value = serde_json::Value::deserialize(doc)
            .map_err(|e| bad(format!("document {}: {e}", i + 1)))?;
        if value.is_null() {
            continue;
        }
        let items = match value.get("kind").and_then(|k| k.as_str()) {
            Some("List") => value
                .get("items")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default(),
            _ => vec![value],
        };
        for item in items {
            n += load_one(catalog, item).map_err(|e| bad(format!("document {}: {e}", i + 1)))?;
        }
    }
    Ok(n)
}

fn load_one(c: &mut Catalog, v: serde_json::Value) -> std::result::Result<usize, String> {
    let kind = v
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("")
        .to_owned();
    let ns = v
        .pointer("/metadata/namespace")
        .and_then(|n| n.as_str())
        .unwrap_or("default")
        .to_ascii_lowercase();
    let parse_err = |e: serde_json::Error| format!("{kind}: {e}");
    match kind.as_str() {
        "Service" => {
            let s: Service = serde_json::from_value(v).map_err(parse_err)?;
            c.upsert_namespace(&ns);
            c.upsert_service(DnsService::from_service(&s).map_err(|e| e.to_string())?);
        }
        "EndpointSlice" => {
            let s: EndpointSlice = serde_json::from_value(v).map_err(parse_err)?;
            c.upsert_namespace(&ns);
            c.upsert_slice(DnsEndpointSlice::from_slice(&s).map_err(|e| e.to_string())?);
        }
        "Namespace" => {
            let s: Namespace = serde_json::from_value(v).map_err(parse_err)?;
            c.upsert_namespace(
                &namespace_name(&s)
                    .map_err(|e| e.to_string())?
                    .to_ascii_lowercase(),
            );
        }
        "Pod" => {
            let s: Pod = serde_json::from_value(v).map_err(parse_err)?;
            c.upsert_namespace(&ns);
            c.upsert_pod(DnsPod::from_pod(&s).map_err(|e| e.to_string())?);
        }
        _ => return Ok(0),
    }
    Ok(1)
}
