//! Content negotiation: the encoding of a request's body (JSON, YAML or Kubernetes protobuf, by
//! Content-Type) and of the reply (by Accept). Protobuf answers only kinds that have a protobuf
//! form; everything else (tables, discovery documents, custom kinds) stays JSON, as upstream.

use axum::http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;

pub use podnet_apiserver_proto::CONTENT_TYPE as PROTOBUF;

/// The media types a request body may be in, in kube-apiserver's order.
const ACCEPTED_BODIES: &str =
    "application/json, application/yaml, application/vnd.kubernetes.protobuf";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Protobuf,
}

// === impl Encoding ===

impl Encoding {
    /// The reply encoding `accept` prefers: its first media range the server produces. A range
    /// asking for a conversion (`as=Table`) is served as JSON by the table code.
    pub fn for_accept(accept: &str) -> Self {
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            if parts.any(|p| p.starts_with("as=")) {
                return Encoding::Json;
            }
            match media.as_str() {
                PROTOBUF => return Encoding::Protobuf,
                "application/json" | "application/yaml" | "*/*" | "application/*" => {
                    return Encoding::Json;
                }
                _ => {}
            }
        }
        Encoding::Json
    }

    /// `body`'s bytes and Content-Type in this encoding, JSON when its kind has no protobuf form.
    pub fn encode(self, body: &Value) -> (&'static str, Vec<u8>) {
        if self == Encoding::Protobuf {
            match podnet_apiserver_proto::encode_object(body) {
                Ok(Some(bytes)) => return (PROTOBUF, bytes),
                Ok(None) => {}
                Err(error) => tracing::warn!(
                    %error, kind = body["kind"].as_str().unwrap_or(""),
                    "cannot encode as protobuf; answering JSON"
                ),
            }
        }
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        ("application/json", bytes)
    }
}

/// A request's body as a JSON object, decoded by its Content-Type.
pub fn request_object(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let value: Value = match media.as_str() {
        // No Content-Type is read as JSON, kube-apiserver's first supported type.
        "" | "application/json" => serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the object provided is unrecognized: couldn't decode JSON: {e}"
            ))
        })?,
        m if m.ends_with("yaml") => serde_yaml_ng::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?,
        PROTOBUF => podnet_apiserver_proto::decode_request(body).map_err(|e| {
            ApiError::BadRequest(format!("the object provided is unrecognized: {e}"))
        })?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types \
                 include: {ACCEPTED_BODIES}"
            )));
        }
    };
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "the body of the request must be a JSON or YAML object".into(),
        ));
    }
    Ok(value)
}

/// A reply of `body` with `code`, in `encoding`.
pub fn response(code: StatusCode, body: &Value, encoding: Encoding) -> axum::response::Response {
    let (content_type, bytes) = encoding.encode(body);
    axum::response::Response::builder()
        .status(code)
        .header(axum::http::header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(bytes))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::RESOURCES;

    #[test]
    fn every_served_kind_and_its_list_and_subresources_have_a_protobuf_form() {
        for rt in RESOURCES {
            let api_version = rt.api_version();
            // Reviews are only ever created: upstream has no list of them.
            let list = (!crate::rbac::reviews::is_review(rt)).then(|| format!("{}List", rt.kind));
            for kind in std::iter::once(rt.kind.to_string()).chain(list) {
                assert!(
                    podnet_apiserver_proto::message_for(&api_version, &kind).is_some(),
                    "{api_version} {kind} has no protobuf form"
                );
            }
            for sub in rt.subresources() {
                let api_version = match sub.group {
                    "" => sub.version.to_string(),
                    g => format!("{g}/{}", sub.version),
                };
                assert!(
                    podnet_apiserver_proto::message_for(&api_version, sub.kind).is_some(),
                    "{api_version} {} has no protobuf form",
                    sub.kind
                );
            }
        }
    }

    #[test]
    fn accept_picks_the_first_encoding_the_server_produces() {
        let protobuf = "application/vnd.kubernetes.protobuf, application/json";
        assert_eq!(Encoding::for_accept(protobuf), Encoding::Protobuf);
        assert_eq!(
            Encoding::for_accept("application/vnd.kubernetes.protobuf;q=0.9, */*"),
            Encoding::Protobuf
        );
        assert_eq!(
            Encoding::for_accept("application/json, */*"),
            Encoding::Json
        );
        assert_eq!(Encoding::for_accept(""), Encoding::Json);
        assert_eq!(Encoding::for_accept("text/html, */*"), Encoding::Json);
        let table =
            "application/json;as=Table;v=v1;g=meta.k8s.io, application/vnd.kubernetes.protobuf";
        assert_eq!(Encoding::for_accept(table), Encoding::Json);
    }
}
