//! Events as kubectl 1.37 shows them: `get events` (server-side columns), `events`, and the
//! Events section of `describe`.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use kube::api::PostParams;
use kubectl::Kubectl;
use serde_json::json;
use support::TestServer;

fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// A pod `web` with a Scheduled event and a readiness-probe warning seen 5 times.
async fn pod_with_events(server: &TestServer) {
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
    .unwrap();
    let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    let uid = pod.metadata.uid.unwrap();
    let now = jiff::Timestamp::now();
    let ago = |mins: i64| {
        (now - jiff::SignedDuration::from_mins(mins))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let events: Api<Event> = Api::namespaced(server.client(), "default");
    for (name, reason, kind, message, count, first, field_path) in [
        (
            "web.1",
            "Scheduled",
            "Normal",
            "Successfully assigned default/web to node-1",
            1,
            20,
            "",
        ),
        (
            "web.2",
            "Unhealthy",
            "Warning",
            "Readiness probe failed: HTTP probe failed with statuscode: 500",
            5,
            10,
            "spec.containers{c}",
        ),
    ] {
        let ev: Event = serde_json::from_value(json!({
            "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web",
                "uid": uid, "apiVersion": "v1", "fieldPath": field_path},
            "reason": reason, "type": kind, "message": message, "count": count,
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ago(first), "lastTimestamp": ago(1)}))
        .unwrap();
        events.create(&PostParams::default(), &ev).await.unwrap();
    }
}

#[tokio::test]
async fn get_events_prints_kubectls_columns() {
    let server = TestServer::start().await;
    pod_with_events(&server).await;
    let kubectl = Kubectl::new(&server.url());

    let out = kubectl.run(&["get", "events"]).await;
    assert_eq!(
        header(&out),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    let unhealthy = out.lines().find(|l| l.contains("Unhealthy")).expect(&out);
    assert!(
        unhealthy.contains("Warning") && unhealthy.contains("pod/web"),
        "{out}"
    );
    assert!(
        unhealthy.contains("Readiness probe failed: HTTP probe failed"),
        "{out}"
    );

    let wide = kubectl.run(&["get", "ev", "-o", "wide"]).await;
    assert_eq!(
        header(&wide),
        [
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME"
        ],
        "{wide}"
    );
    let row: Vec<&str> = wide
        .lines()
        .find(|l| l.contains("Unhealthy"))
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        &row[4..6],
        ["spec.containers{c}", "kubelet, node-1"],
        "{wide}"
    );
    assert_eq!(&row[7..], ["10m", "5", "web.2"], "{wide}");

    let through_v1 = kubectl.run(&["get", "events.v1.events.k8s.io"]).await;
    assert_eq!(header(&through_v1), header(&out), "{through_v1}");
    assert!(through_v1.contains("Unhealthy"), "{through_v1}");
}

#[tokio::test]
async fn kubectl_events_lists_and_selects_by_object() {
    let server = TestServer::start().await;
    pod_with_events(&server).await;
    let kubectl = Kubectl::new(&server.url());

    let out = kubectl.run(&["events"]).await;
    assert_eq!(
        header(&out),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    assert!(
        out.contains("Scheduled") && out.contains("Unhealthy"),
        "{out}"
    );

    let warnings = kubectl
        .run(&["events", "--for", "pod/web", "--types", "Warning"])
        .await;
    assert!(warnings.contains("Unhealthy"), "{warnings}");
    assert!(!warnings.contains("Scheduled"), "{warnings}");
}

#[tokio::test]
async fn describe_pod_shows_its_events() {
    let server = TestServer::start().await;
    pod_with_events(&server).await;
    let kubectl = Kubectl::new(&server.url());

    let out = kubectl.run(&["describe", "pod", "web"]).await;
    let events = out.split_once("\nEvents:").expect(&out).1;
    let lines: Vec<&str> = events
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Type", "Reason", "Age", "From", "Message"],
        "{out}"
    );
    let unhealthy = lines.iter().find(|l| l.contains("Unhealthy")).expect(&out);
    assert!(unhealthy.starts_with("Warning"), "{out}");
    assert!(unhealthy.contains("(x5 over 10m)"), "{out}");
    assert!(unhealthy.contains("kubelet"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Successfully assigned default/web to node-1")),
        "{out}"
    );
}
