//! Kubernetes' protobuf wire format for the lab's API server, which holds objects as JSON
//! values: `encode_object`/`decode_object` convert one object (in the `k8s\0` + runtime.Unknown
//! envelope) between the two, and `watch_frame` writes one frame of a protobuf watch stream.
//!
//! No per-kind code: a generic codec walks a message table generated from k8s-pb (tags, wire
//! types, nesting) with k8s-openapi's JSON names (`tests/generated_table.rs`), and the few
//! messages whose JSON form is not an object (Time, IntOrString, Quantity, RawExtension, …) are
//! rewritten to and from their table shape by name (`special`). I/O-free.

mod decode;
mod encode;
mod envelope;
#[rustfmt::skip]
mod generated;
mod special;
mod table;
mod wire;

pub use envelope::{
    CONTENT_TYPE, STREAM_CONTENT_TYPE, decode_object, decode_request, encode_object, message_for,
    watch_frame,
};

/// Decodes one message given by its k8s-pb name (`api.apps.v1.Deployment`) into its JSON form.
pub fn decode_message(name: &str, bytes: &[u8]) -> Result<serde_json::Value, Error> {
    decode::message(name, bytes, name, decode::FAITHFUL)
}

/// Encodes the JSON form of one message given by its k8s-pb name.
pub fn encode_message(name: &str, value: &serde_json::Value) -> Result<Vec<u8>, Error> {
    encode::message(name, value, name)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"")]
    NoMagic,

    #[error("malformed protobuf in {path}: {reason}")]
    Malformed { path: String, reason: &'static str },

    #[error("no protobuf message for kind {kind:?} in {api_version:?}")]
    UnknownKind { api_version: String, kind: String },

    #[error("{path}: expected {expected}")]
    Type {
        path: String,
        expected: &'static str,
    },

    #[error("{path}: invalid {what} {value:?}")]
    Invalid {
        path: String,
        what: &'static str,
        value: String,
    },
}
