//! Pods over Kubernetes' protobuf wire format, as kubectl's typed clients send them: the
//! `k8s\0` magic and a runtime.Unknown envelope around the object, and watch streams of
//! length-prefixed WatchEvent frames. Encoded and decoded with k8s-pb's types, so the bench
//! checks the server against an independent implementation of the format.

use http_body_util::BodyExt;
use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use kube::client::Body;
use prost::Message;

const MAGIC: &[u8] = b"k8s\0";
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    unknown.encode(&mut out).expect("a Vec grows");
    out
}

/// The object inside an encoded envelope.
fn open(bytes: &[u8]) -> Unknown {
    let bytes = bytes.strip_prefix(MAGIC).unwrap_or_else(|| {
        panic!(
            "not protobuf: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        )
    });
    Unknown::decode(bytes).expect("an Unknown envelope")
}

fn pod(name: &str, node: &str) -> Vec<u8> {
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: Some(name.into()),
            labels: [("app".to_string(), "bench".to_string())].into(),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            node_name: Some(node.into()),
            containers: vec![core::Container {
                name: Some("c".into()),
                image: Some("registry.k8s.io/pause:3.10".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    envelope("v1", "Pod", pod.encode_to_vec())
}

fn resource_version(object: &[u8]) -> String {
    let raw = open(object).raw.expect("the envelope holds the object");
    let pod = core::Pod::decode(raw.as_slice()).expect("a Pod");
    pod.metadata
        .and_then(|m| m.resource_version)
        .expect("a stored pod has a resourceVersion")
}

/// Creates a pod with a protobuf body and a protobuf answer; returns its resourceVersion.
pub async fn create(client: &kube::Client, ns: &str, name: &str, node: &str) -> String {
    let request = http::Request::post(format!("/api/v1/namespaces/{ns}/pods"))
        .header(http::header::CONTENT_TYPE, PROTOBUF)
        .header(http::header::ACCEPT, PROTOBUF)
        .body(Body::from(pod(name, node)))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    resource_version(&bytes)
}

/// Watches the namespace's pods from `from` in protobuf and hands each MODIFIED event's
/// resourceVersion to `seen` as it arrives. Returns when the stream ends.
pub async fn watch(
    client: kube::Client,
    ns: &str,
    from: &str,
    ready: tokio::sync::oneshot::Sender<()>,
    mut seen: impl FnMut(String),
) {
    let request = http::Request::get(format!(
        "/api/v1/namespaces/{ns}/pods?watch=true&resourceVersion={from}&timeoutSeconds=290"
    ))
    .header(http::header::ACCEPT, WATCH)
    .body(Body::empty())
    .unwrap();
    let response = client.send(request).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let _ = ready.send(());
    let mut body = response.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        // Frames: a 4-byte big-endian length, then that many bytes of WatchEvent.
        while buf.len() >= 4 {
            let len = u32::from_be_bytes(buf[..4].try_into().unwrap()) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..4 + len).skip(4).collect();
            let event = match frame.strip_prefix(MAGIC) {
                Some(_) => {
                    let raw = open(&frame).raw.expect("a WatchEvent");
                    meta::WatchEvent::decode(raw.as_slice())
                }
                None => meta::WatchEvent::decode(frame.as_slice()),
            }
            .expect("a WatchEvent frame");
            if event.r#type.as_deref() == Some("MODIFIED") {
                let object = event.object.and_then(|o| o.raw).expect("an object");
                seen(resource_version(&object));
            }
        }
    }
}
