//! Kubernetes protobuf on the wire against the real server: bodies written by k8s-pb's prost
//! types (as client-go writes them), replies and watch frames decoded by them.

#[path = "support/server.rs"]
mod support;

use std::time::Duration;

use k8s_pb::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_pb::api::core::v1::{ConfigMap, ConfigMapList, Container, PodSpec, PodTemplateSpec};
use k8s_pb::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Status, WatchEvent};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;
use support::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// What client-go's typed clients send.
const ACCEPT_PROTOBUF: &str = "application/vnd.kubernetes.protobuf, application/json";

struct Reply {
    code: u16,
    content_type: String,
    body: Vec<u8>,
}

/// The `k8s\0` + Unknown envelope around `message`.
fn envelope(api_version: &str, kind: &str, message: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(message.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [b"k8s\0".to_vec(), unknown.encode_to_vec()].concat()
}

/// The object in an envelope, checking its kind.
fn open<T: Message + Default>(bytes: &[u8], kind: &str) -> T {
    let body = bytes.strip_prefix(b"k8s\0").expect("the protobuf prefix");
    let unknown = Unknown::decode(body).unwrap();
    assert_eq!(unknown.type_meta.unwrap().kind.as_deref(), Some(kind));
    T::decode(unknown.raw.unwrap().as_slice()).unwrap()
}

fn request_head(method: &str, path: &str, headers: &[(&str, &str)], len: usize) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head + &format!("Content-Length: {len}\r\n\r\n")
}

/// Splits a response into its status code, Content-Type and (de-chunked) body.
fn parse(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = raw[split + 4..].to_vec();
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
            .unwrap_or_default()
    };
    if header("transfer-encoding") == "chunked" {
        body = dechunk(&body);
    }
    Some(Reply {
        code: head[9..12].parse().ok()?,
        content_type: header("content-type"),
        body,
    })
}

/// The complete chunks of a chunked body so far.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..eol]).unwrap().trim(), 16);
        let Ok(size) = size else { break };
        if size == 0 || raw.len() < eol + 2 + size + 2 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

async fn request(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut s = server.connect().await;
    let head = request_head(method, path, headers, body.len());
    s.write_all(&[head.as_bytes(), body].concat())
        .await
        .unwrap();
    let mut raw = Vec::new();
    support::read_to_close(&mut s, &mut raw).await;
    parse(&raw).expect("an HTTP response")
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: Some(ObjectMeta {
            name: Some(name.into()),
            // Go writes every non-pointer string, set or not.
            namespace: Some(String::new()),
            resource_version: Some(String::new()),
            uid: Some(String::new()),
            labels: [("app".to_string(), String::new())].into(),
            ..Default::default()
        }),
        data: [("a".to_string(), "b".to_string())].into(),
        binary_data: [("bin".to_string(), vec![0, 1, 255])].into(),
        immutable: None,
    }
}

#[tokio::test]
async fn protobuf_bodies_create_and_replies_decode_with_k8s_pb() {
    let server = TestServer::start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let body = envelope("v1", "ConfigMap", &config_map("c"));
    let headers = [("Content-Type", PROTOBUF), ("Accept", ACCEPT_PROTOBUF)];
    let created = request(&server, "POST", path, &headers, &body).await;
    assert_eq!(
        created.code,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.content_type, PROTOBUF);
    let cm: ConfigMap = open(&created.body, "ConfigMap");
    let meta = cm.metadata.unwrap();
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(!meta.uid.unwrap_or_default().is_empty());
    assert_eq!(meta.labels["app"], "");
    assert_eq!(cm.data["a"], "b");
    assert_eq!(cm.binary_data["bin"], vec![0, 1, 255]);

    // The same object read as JSON: the protobuf body was decoded into the usual shape.
    let (code, json) = server
        .raw("GET", &format!("{path}/c"), "application/json", "")
        .await;
    assert_eq!(code, 200);
    assert_eq!(json["binaryData"]["bin"], "AAH/");
    assert_eq!(json["metadata"]["labels"]["app"], "");

    let got = request(&server, "GET", &format!("{path}/c"), &headers[1..], &[]).await;
    assert_eq!((got.code, got.content_type.as_str()), (200, PROTOBUF));
    let cm: ConfigMap = open(&got.body, "ConfigMap");
    assert_eq!(cm.data["a"], "b");

    let list = request(&server, "GET", path, &headers[1..], &[]).await;
    assert_eq!((list.code, list.content_type.as_str()), (200, PROTOBUF));
    let list: ConfigMapList = open(&list.body, "ConfigMapList");
    assert!(list.metadata.unwrap().resource_version.is_some());
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        list.items[0].metadata.as_ref().unwrap().name.as_deref(),
        Some("c")
    );
}

#[tokio::test]
async fn a_go_style_deployment_is_defaulted_as_its_json_would_be() {
    let server = TestServer::start().await;
    let container = Container {
        name: Some("web".into()),
        image: Some("nginx".into()),
        // Unset in Go, so written empty: defaulting must still fill them.
        image_pull_policy: Some(String::new()),
        termination_message_path: Some(String::new()),
        ..Default::default()
    };
    let labels = [("app".to_string(), "web".to_string())];
    let deployment = Deployment {
        metadata: Some(ObjectMeta {
            name: Some("web".into()),
            generate_name: Some(String::new()),
            ..Default::default()
        }),
        spec: Some(DeploymentSpec {
            replicas: Some(0),
            selector: Some(LabelSelector {
                match_labels: labels.clone().into(),
                ..Default::default()
            }),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: labels.into(),
                    creation_timestamp: Some(Default::default()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    let body = envelope("apps/v1", "Deployment", &deployment);
    let headers = [("Content-Type", PROTOBUF), ("Accept", ACCEPT_PROTOBUF)];
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let created = request(&server, "POST", path, &headers, &body).await;
    assert_eq!(
        created.code,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let deployment: Deployment = open(&created.body, "Deployment");
    let spec = deployment.spec.unwrap();
    assert_eq!(spec.replicas, Some(0));
    let container = &spec.template.unwrap().spec.unwrap().containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
}

#[tokio::test]
async fn errors_are_protobuf_status_and_tables_stay_json() {
    let server = TestServer::start().await;
    let missing = "/api/v1/namespaces/default/configmaps/nope";
    let reply = request(&server, "GET", missing, &[("Accept", ACCEPT_PROTOBUF)], &[]).await;
    assert_eq!((reply.code, reply.content_type.as_str()), (404, PROTOBUF));
    let status: Status = open(&reply.body, "Status");
    assert_eq!(status.reason.as_deref(), Some("NotFound"));
    assert_eq!(status.code, Some(404));
    assert_eq!(
        status.message.as_deref(),
        Some("configmaps \"nope\" not found")
    );

    let table = "application/json;as=Table;v=v1;g=meta.k8s.io, application/vnd.kubernetes.protobuf";
    let reply = request(
        &server,
        "GET",
        "/api/v1/namespaces",
        &[("Accept", table)],
        &[],
    )
    .await;
    assert_eq!(
        (reply.code, reply.content_type.as_str()),
        (200, "application/json")
    );
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["kind"], "Table");

    // A client that prefers JSON gets JSON.
    let reply = request(
        &server,
        "GET",
        "/api/v1/namespaces/default",
        &[(
            "Accept",
            "application/json, application/vnd.kubernetes.protobuf",
        )],
        &[],
    )
    .await;
    assert_eq!(reply.content_type, "application/json");
}

#[tokio::test]
async fn unknown_content_types_are_415_unsupported_media_type() {
    let server = TestServer::start().await;
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "text/plain",
            "{}",
        )
        .await;
    assert_eq!(code, 415);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "UnsupportedMediaType");
    assert_eq!(
        status["message"],
        "the body of the request was in an unknown format - accepted media types include: \
         application/json, application/yaml, application/vnd.kubernetes.protobuf"
    );
    // A protobuf Content-Type with a body that is not protobuf is a bad request, not JSON's.
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            PROTOBUF,
            "{}",
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        !status["message"].as_str().unwrap().contains("JSON"),
        "{status}"
    );
}

#[tokio::test]
async fn watch_streams_length_prefixed_watch_events() {
    let server = TestServer::start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let mut s = server.connect().await;
    let head = request_head(
        "GET",
        &format!("{path}?watch=1"),
        &[("Accept", ACCEPT_PROTOBUF)],
        0,
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let (code, _) = server
        .raw(
            "POST",
            path,
            "application/json",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"data":{"k":"v"}}"#,
        )
        .await;
    assert_eq!(code, 201);

    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let reply = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended before an event");
            raw.extend_from_slice(&buf[..n]);
            if let Some(reply) = parse(&raw)
                && reply.body.len() >= 4
                && reply.body.len()
                    >= 4 + u32::from_be_bytes(reply.body[..4].try_into().unwrap()) as usize
            {
                return reply;
            }
        }
    })
    .await
    .expect("a watch event within the deadline");
    assert_eq!(
        reply.content_type,
        "application/vnd.kubernetes.protobuf;stream=watch"
    );
    let len = u32::from_be_bytes(reply.body[..4].try_into().unwrap()) as usize;
    let event = WatchEvent::decode(&reply.body[4..4 + len]).unwrap();
    assert_eq!(event.r#type.as_deref(), Some("ADDED"));
    let cm: ConfigMap = open(&event.object.unwrap().raw.unwrap(), "ConfigMap");
    assert_eq!(cm.metadata.unwrap().name.as_deref(), Some("w"));
    assert_eq!(cm.data["k"], "v");
}

#[tokio::test]
async fn the_scale_subresource_and_delete_options_speak_protobuf() {
    use k8s_pb::api::autoscaling::v1::{Scale, ScaleSpec};
    use k8s_pb::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Preconditions};
    let server = TestServer::start().await;
    let (code, _) = server
        .raw(
            "POST",
            "/apis/apps/v1/namespaces/default/deployments",
            "application/json",
            r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
            "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
            "template":{"metadata":{"labels":{"app":"web"}},
            "spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#,
        )
        .await;
    assert_eq!(code, 201);
    let path = "/apis/apps/v1/namespaces/default/deployments/web";
    let scale_path = format!("{path}/scale");
    let accept = [("Accept", ACCEPT_PROTOBUF)];
    let reply = request(&server, "GET", &scale_path, &accept, &[]).await;
    assert_eq!((reply.code, reply.content_type.as_str()), (200, PROTOBUF));
    let scale: Scale = open(&reply.body, "Scale");
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(
        scale.status.as_ref().unwrap().selector.as_deref(),
        Some("app=web")
    );

    // client-go's UpdateScale: the Scale back with zero replicas (a value Go always writes).
    let scaled = Scale {
        spec: Some(ScaleSpec { replicas: Some(0) }),
        ..scale
    };
    let headers = [("Content-Type", PROTOBUF), ("Accept", ACCEPT_PROTOBUF)];
    let body = envelope("autoscaling/v1", "Scale", &scaled);
    let reply = request(&server, "PUT", &scale_path, &headers, &body).await;
    assert_eq!(reply.code, 200, "{}", String::from_utf8_lossy(&reply.body));
    let scale: Scale = open(&reply.body, "Scale");
    assert_eq!(scale.spec.unwrap().replicas, Some(0));

    // A typed client's Delete carries DeleteOptions as protobuf: its precondition is honoured.
    let options = |uid: &str| DeleteOptions {
        preconditions: Some(Preconditions {
            uid: Some(uid.into()),
            resource_version: None,
        }),
        ..Default::default()
    };
    let body = envelope("meta.k8s.io/v1", "DeleteOptions", &options("not-the-uid"));
    let reply = request(&server, "DELETE", path, &headers, &body).await;
    assert_eq!(reply.code, 409, "{}", String::from_utf8_lossy(&reply.body));
    let status: Status = open(&reply.body, "Status");
    assert_eq!(status.reason.as_deref(), Some("Conflict"));
    let uid = scale.metadata.unwrap().uid.unwrap();
    let body = envelope("meta.k8s.io/v1", "DeleteOptions", &options(&uid));
    let reply = request(&server, "DELETE", path, &headers, &body).await;
    assert_eq!(reply.code, 200, "{}", String::from_utf8_lossy(&reply.body));
}
