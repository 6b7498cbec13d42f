//! A request body into the lab API server's decoding path, as a create or update reads it:
//! by Content-Type (JSON, YAML, Kubernetes protobuf, none), then for a served kind into its
//! typed form, the create strategy and validation. Nothing panics; every field error names a
//! field; a protobuf body decodes to an object that encodes back to the same object.

use podnet_apiserver::negotiate::{Encoding, PROTOBUF, request_object};
use podnet_apiserver::resources::ResourceType;
use podnet_apiserver::strategy::prepare_create;
use podnet_apiserver::validate::Errors;
use podnet_apiserver_proto::{decode_object, encode_object};

const CONTENT_TYPES: [&str; 5] = [
    "application/json",
    "application/yaml",
    PROTOBUF,
    "",
    "application/json; charset=utf-8",
];

/// One input; panics on what the input must not break.
pub fn api_body(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[pick as usize % CONTENT_TYPES.len()];
    let Ok(mut obj) = request_object(content_type, body) else {
        return;
    };
    assert!(obj.is_object(), "a decoded body is an object");
    if content_type == PROTOBUF
        && let Ok(Some(bytes)) = encode_object(&obj)
    {
        let back = decode_object(&bytes).expect("what was encoded decodes");
        assert_eq!(back, obj, "a protobuf object round-trips");
    }
    for accept in ["application/json", PROTOBUF, "application/yaml"] {
        let _ = Encoding::for_accept(accept).encode(&obj);
    }
    let (Some(api_version), Some(kind)) = (obj["apiVersion"].as_str(), obj["kind"].as_str()) else {
        return;
    };
    let Some(rt) = ResourceType::by_kind(api_version, kind) else {
        return;
    };
    if (rt.decode)(&obj).is_err() {
        return;
    }
    prepare_create(rt, &mut obj);
    let mut errs = Errors::default();
    (rt.validate)(&obj, &mut errs);
    for cause in &errs.0 {
        assert!(
            !cause.message.is_empty(),
            "the error at {} says why",
            cause.field
        );
    }
}
