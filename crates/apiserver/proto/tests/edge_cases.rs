//! The JSON forms that do not map one-to-one onto protobuf fields, and presence.

mod support;

use k8s_pb::api::coordination::v1::Lease;
use k8s_pb::api::core::v1::ConfigMap;
use k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podnet_apiserver_proto::{decode_message, decode_object, encode_message, encode_object};
use prost::Message;
use serde_json::json;
use support::roundtrip;

const OBJECT_META: &str = "apimachinery.pkg.apis.meta.v1.ObjectMeta";

#[test]
fn empty_strings_and_zeros_are_present_absent_ones_are_not() {
    let bytes = encode_message(OBJECT_META, &json!({"name": "", "generation": 0})).unwrap();
    let meta = ObjectMeta::decode(bytes.as_slice()).unwrap();
    assert_eq!(meta.name.as_deref(), Some(""));
    assert_eq!(meta.generation, Some(0));
    assert_eq!(meta.namespace, None);
    assert_eq!(meta.generate_name, None);
    let back = decode_message(OBJECT_META, &bytes).unwrap();
    assert_eq!(back, json!({"name": "", "generation": 0}));
}

#[test]
fn requests_read_as_go_json_would_empty_strings_left_out() {
    // Go writes every non-pointer string, set or not; map values and list items are data.
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "", "labels": {"empty": ""}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "",
            "args": [""]}]}});
    let bytes = encode_object(&pod).unwrap().unwrap();
    let decoded = podnet_apiserver_proto::decode_request(&bytes).unwrap();
    assert_eq!(
        decoded,
        json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"empty": ""}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "args": [""]}]}})
    );
    assert_eq!(decode_object(&bytes).unwrap(), pod);
}

#[test]
fn null_fields_are_absent() {
    let bytes = encode_message(
        OBJECT_META,
        &json!({"name": "a", "namespace": null,
        "creationTimestamp": null}),
    )
    .unwrap();
    assert_eq!(
        decode_message(OBJECT_META, &bytes).unwrap(),
        json!({"name": "a"})
    );
}

#[test]
fn zero_time_from_go_is_null() {
    // Go writes a zero metav1.Time as an empty message.
    let meta = ObjectMeta {
        name: Some("a".into()),
        creation_timestamp: Some(Default::default()),
        ..Default::default()
    };
    let back = decode_message(OBJECT_META, &meta.encode_to_vec()).unwrap();
    assert_eq!(back, json!({"name": "a", "creationTimestamp": null}));
}

#[test]
fn time_is_whole_seconds_and_micro_time_keeps_microseconds() {
    let bytes = encode_message(
        OBJECT_META,
        &json!({
        "creationTimestamp": "2026-01-02T03:04:05.75Z",
        "deletionTimestamp": "2026-01-02T03:04:05Z"}),
    )
    .unwrap();
    let meta = ObjectMeta::decode(bytes.as_slice()).unwrap();
    let created = meta.creation_timestamp.unwrap();
    assert_eq!(
        (created.seconds, created.nanos),
        (Some(1_767_323_045), Some(750_000_000))
    );
    // metav1.Time's JSON is RFC 3339 without fractions, as Go writes it.
    assert_eq!(
        decode_message(OBJECT_META, &bytes).unwrap(),
        json!({"creationTimestamp": "2026-01-02T03:04:05Z",
            "deletionTimestamp": "2026-01-02T03:04:05Z"})
    );
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {},
        "spec": {"renewTime": "2026-01-02T03:04:05.000000Z",
            "acquireTime": "2026-01-02T03:04:05.123456Z"}});
    let typed: Lease = roundtrip(&lease);
    assert_eq!(
        typed.spec.unwrap().acquire_time.unwrap().nanos,
        Some(123_456_000)
    );
}

#[test]
fn int_or_string_both_ways() {
    for (port, ty) in [
        (json!(8080), 0),
        (json!("http"), 1),
        (json!(0), 0),
        (json!(""), 1),
    ] {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {},
            "spec": {"ports": [{"port": 80, "targetPort": port}]}});
        let typed: k8s_pb::api::core::v1::Service = roundtrip(&svc);
        let target = typed.spec.unwrap().ports[0].target_port.clone().unwrap();
        assert_eq!(target.r#type, Some(ty));
    }
}

#[test]
fn quantities_are_strings_also_when_json_gave_numbers() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}, "spec": {"containers": [
        {"name": "c", "resources": {"limits": {"cpu": 2, "memory": "1.5Gi"}}}]}});
    let bytes = encode_object(&pod).unwrap().unwrap();
    let back = decode_object(&bytes).unwrap();
    assert_eq!(
        back["spec"]["containers"][0]["resources"]["limits"],
        json!({"cpu": "2", "memory": "1.5Gi"})
    );
}

#[test]
fn bytes_are_base64_in_json() {
    let cm: ConfigMap = roundtrip(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c"}, "binaryData": {"zero": "AA==", "empty": ""}}));
    assert_eq!(cm.binary_data["zero"], vec![0]);
    assert_eq!(cm.binary_data["empty"], Vec::<u8>::new());
}

#[test]
fn nested_lists_of_messages_and_empty_messages() {
    roundtrip::<k8s_pb::api::networking::v1::NetworkPolicy>(&json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {},
        "spec": {"podSelector": {}, "ingress": [{}, {"from": [{"podSelector": {}}, {}]}]}}));
}

#[test]
fn negative_numbers_and_doubles() {
    roundtrip::<k8s_pb::api::core::v1::Pod>(&json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {}, "spec": {"priority": -5,
            "activeDeadlineSeconds": -9_000_000_000_i64}}));
}

#[test]
fn kinds_without_protobuf_are_left_to_json() {
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}});
    assert!(encode_object(&widget).unwrap().is_none());
    let table = json!({"apiVersion": "meta.k8s.io/v1", "kind": "Table", "rows": []});
    assert!(encode_object(&table).unwrap().is_none());
}

#[test]
fn bodies_without_the_prefix_or_with_a_foreign_kind_are_refused() {
    assert!(decode_object(b"{\"kind\": \"Pod\"}").is_err());
    let widget = support::envelope(
        &k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some("example.com/v1".into()),
            kind: Some("Widget".into()),
        },
        Vec::new(),
    );
    assert!(decode_object(&widget).is_err());
}

#[test]
fn watch_frames_are_length_prefixed_raw_watch_events() {
    use k8s_pb::apimachinery::pkg::apis::meta::v1::WatchEvent;
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let frame = podnet_apiserver_proto::watch_frame("ADDED", &cm)
        .unwrap()
        .unwrap();
    let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
    assert_eq!(len, frame.len() - 4);
    let event = WatchEvent::decode(&frame[4..]).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let object = decode_object(&event.object.unwrap().raw.unwrap()).unwrap();
    assert_eq!(object, cm);
}
