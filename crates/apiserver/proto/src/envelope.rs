//! The envelope around every protobuf object Kubernetes sends: the `k8s\0` prefix, then a
//! runtime.Unknown {typeMeta{apiVersion, kind}, raw: the object's message, contentEncoding,
//! contentType}; and the watch stream's frames.

use serde_json::{Map, Value};

use crate::decode::malformed;
use crate::wire::{Raw, Reader, put_len};
use crate::{Error, decode, encode};

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";
pub const STREAM_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

const MAGIC: &[u8] = b"k8s\0";
const META_V1: &str = "apimachinery.pkg.apis.meta.v1";

/// The k8s-pb package of an API group's version, for the groups Kubernetes itself serves.
fn package(group: &str, version: &str) -> Option<String> {
    let base = match group {
        "" => "api.core".to_string(),
        "apiextensions.k8s.io" => "apiextensions_apiserver.pkg.apis.apiextensions".to_string(),
        "apiregistration.k8s.io" => "kube_aggregator.pkg.apis.apiregistration".to_string(),
        "internal.apiserver.k8s.io" => "api.apiserverinternal".to_string(),
        "metrics.k8s.io" | "custom.metrics.k8s.io" | "external.metrics.k8s.io" => {
            let name = group
                .split('.')
                .take_while(|l| *l != "k8s")
                .collect::<Vec<_>>();
            format!(
                "metrics.pkg.apis.{}",
                name.join("_").replace("metrics_metrics", "metrics")
            )
        }
        // Custom resources' groups are domains (at least one dot) outside k8s.io: no protobuf.
        g if !g.contains('.') => format!("api.{g}"),
        g => format!("api.{}", g.strip_suffix(".k8s.io")?.split('.').next()?),
    };
    Some(format!("{base}.{version}"))
}

/// The k8s-pb message of `kind` in `apiVersion`, if it has a protobuf form. The meta/v1 kinds
/// every group version carries (Status, DeleteOptions, WatchEvent, …) are found from any.
pub fn message_for(api_version: &str, kind: &str) -> Option<&'static str> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let own = package(group, version).map(|p| format!("{p}.{kind}"));
    own.into_iter()
        .chain([format!("{META_V1}.{kind}")])
        .find_map(|name| crate::table::message(&name).map(|m| m.name))
}

/// The envelope-wrapped protobuf of `object` (which names its apiVersion and kind), or None when
/// its kind has no protobuf form.
pub fn encode_object(object: &Value) -> Result<Option<Vec<u8>>, Error> {
    let str_field = |f: &str| object.get(f).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (str_field("apiVersion"), str_field("kind"));
    let Some(name) = message_for(api_version, kind) else {
        return Ok(None);
    };
    let raw = encode::message(name, object, kind)?;
    let mut type_meta = Vec::new();
    put_len(&mut type_meta, 1, api_version.as_bytes());
    put_len(&mut type_meta, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    put_len(&mut out, 1, &type_meta);
    put_len(&mut out, 2, &raw);
    // contentEncoding and contentType: empty, as Kubernetes writes them.
    put_len(&mut out, 3, b"");
    put_len(&mut out, 4, b"");
    Ok(Some(out))
}

/// The JSON object in an envelope, with its apiVersion and kind from the envelope's typeMeta.
pub fn decode_object(bytes: &[u8]) -> Result<Value, Error> {
    decode_object_with(bytes, decode::FAITHFUL)
}

/// The JSON object a Go client sent in an envelope, as its JSON would have read: empty strings
/// (which Go writes for every unset string field) left out, so defaulting fills them.
pub fn decode_request(bytes: &[u8]) -> Result<Value, Error> {
    decode_object_with(
        bytes,
        decode::Options {
            omit_empty_strings: true,
        },
    )
}

fn decode_object_with(bytes: &[u8], opts: decode::Options) -> Result<Value, Error> {
    let body = bytes.strip_prefix(MAGIC).ok_or(Error::NoMagic)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let mut reader = Reader::new(body);
    while let Some((tag, field)) = reader.field().map_err(|r| malformed("Unknown", r))? {
        match (tag, field) {
            (1, Raw::Len(type_meta)) => {
                let mut tm = Reader::new(type_meta);
                while let Some((tag, field)) = tm.field().map_err(|r| malformed("typeMeta", r))? {
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    match (tag, field) {
                        (1, Raw::Len(b)) => api_version = text(b),
                        (2, Raw::Len(b)) => kind = text(b),
                        _ => {}
                    }
                }
            }
            (2, Raw::Len(b)) => raw = b,
            _ => {}
        }
    }
    let name = message_for(&api_version, &kind).ok_or_else(|| Error::UnknownKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let Value::Object(fields) = decode::message(name, raw, &kind, opts)? else {
        return Err(malformed(&kind, "not an object"));
    };
    let mut object = Map::new();
    object.insert("apiVersion".into(), Value::String(api_version));
    object.insert("kind".into(), Value::String(kind));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// One frame of a protobuf watch stream: a 4-byte big-endian length, then a meta/v1 WatchEvent
/// (bare: streams use Kubernetes' raw serializer) whose object is the envelope-wrapped object.
/// None when the object's kind has no protobuf form.
pub fn watch_frame(event_type: &str, object: &Value) -> Result<Option<Vec<u8>>, Error> {
    let Some(inner) = encode_object(object)? else {
        return Ok(None);
    };
    let mut raw_extension = Vec::new();
    put_len(&mut raw_extension, 1, &inner);
    let mut event = Vec::new();
    put_len(&mut event, 1, event_type.as_bytes());
    put_len(&mut event, 2, &raw_extension);
    let len = u32::try_from(event.len()).map_err(|_| Error::Invalid {
        path: "WatchEvent".into(),
        what: "length",
        value: event.len().to_string(),
    })?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend(event);
    Ok(Some(frame))
}
