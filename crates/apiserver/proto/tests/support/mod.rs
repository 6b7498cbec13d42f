//! The oracle round trip: our encoding must decode with k8s-pb's prost types, and what prost
//! re-encodes must decode back to the same JSON.

#![allow(dead_code)]

use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;
use serde_json::Value;

/// Encodes `object`, decodes it with prost as `T` (returned for field checks), re-encodes with
/// prost and asserts our decoder gives back `object`.
pub fn roundtrip<T: Message + Default>(object: &Value) -> T {
    let bytes = podnet_apiserver_proto::encode_object(object)
        .unwrap()
        .expect("the kind has a protobuf form");
    let unknown = Unknown::decode(bytes.strip_prefix(b"k8s\0").unwrap()).unwrap();
    let type_meta = unknown.type_meta.clone().unwrap();
    assert_eq!(
        type_meta.api_version.as_deref(),
        object["apiVersion"].as_str()
    );
    assert_eq!(type_meta.kind.as_deref(), object["kind"].as_str());
    let typed = T::decode(unknown.raw.as_deref().unwrap()).expect("prost accepts our bytes");
    let back = envelope(&type_meta, typed.encode_to_vec());
    let decoded = podnet_apiserver_proto::decode_object(&back).unwrap();
    let mut diffs = Vec::new();
    diff("", &decoded, object, &mut diffs);
    assert!(
        diffs.is_empty(),
        "decoded != original:\n{}",
        diffs.join("\n")
    );
    typed
}

/// Where two JSON values differ, one line per difference.
fn diff(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for key in g.keys().chain(w.keys().filter(|k| !g.contains_key(*k))) {
                let (g, w) = (&g.get(key), &w.get(key));
                match (g, w) {
                    (Some(g), Some(w)) => diff(&format!("{path}.{key}"), g, w, out),
                    _ => out.push(format!("{path}.{key}: decoded {g:?}, original {w:?}")),
                }
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{i}]"), g, w, out);
            }
        }
        (g, w) if g != w => out.push(format!("{path}: decoded {g}, original {w}")),
        _ => {}
    }
}

/// The `k8s\0` + Unknown envelope, written by prost.
pub fn envelope(type_meta: &TypeMeta, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(type_meta.clone()),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [b"k8s\0".to_vec(), unknown.encode_to_vec()].concat()
}
