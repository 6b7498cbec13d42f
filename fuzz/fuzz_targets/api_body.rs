//! A request body into the lab API server's decoding path, as a create or update reads it:
//! by Content-Type (JSON, YAML, Kubernetes protobuf, none), then for a served kind into its
//! typed form, the create strategy and validation. Nothing panics; every field error names a
//! field; a protobuf body decodes to an object that encodes back to the same object.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| podnet_fuzz_checks::api_body(data));
