//! The recorder against the real API server: repeats become one object with a count.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, ObjectReference};
use kube::Api;
use kube::api::ListParams;
use podnet_k8s_events::{Broadcaster, EventType, Reference, Source};

async fn server() -> (kube::Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = dir.path().to_path_buf();
    tokio::spawn(async move {
        podnet_apiserver::serve(listener, &state, std::future::pending())
            .await
            .unwrap();
    });
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    (client, dir)
}

/// Polls `list` until `done` holds, with a generous deadline.
async fn wait_for(api: &Api<Event>, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let items = api.list(&ListParams::default()).await.unwrap().items;
        if done(&items) {
            return items;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {items:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_same_event_three_times_is_one_object_with_count_three() {
    let (client, _dir) = server().await;
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new("kubelet", Some("node-1")));
    tokio::spawn(broadcaster.run());
    let pod = Reference(ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some("default".into()),
        name: Some("web-1".into()),
        uid: Some("u1".into()),
        ..Default::default()
    })
    .field("spec.containers{web}");
    for _ in 0..3 {
        recorder.event(
            &pod,
            EventType::Warning,
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 500",
        );
    }
    recorder.event(&pod, EventType::Normal, "Started", "Started container web");
    let api: Api<Event> = Api::namespaced(client, "default");
    let items = wait_for(&api, |items| {
        items.len() == 2 && items.iter().any(|e| e.count == Some(3))
    })
    .await;
    let unhealthy = items
        .iter()
        .find(|e| e.reason.as_deref() == Some("Unhealthy"))
        .unwrap();
    assert_eq!(unhealthy.count, Some(3));
    assert!(unhealthy.last_timestamp >= unhealthy.first_timestamp);
    assert!(
        unhealthy
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("web-1."),
        "{unhealthy:?}"
    );
    let source = unhealthy.source.clone().unwrap();
    assert_eq!(source.component.as_deref(), Some("kubelet"));
    assert_eq!(source.host.as_deref(), Some("node-1"));
    assert_eq!(unhealthy.reporting_component.as_deref(), Some("kubelet"));

    // A node's events go to "default", under the node's name as uid.
    recorder.event(
        &Reference::node("node-1"),
        EventType::Normal,
        "Starting",
        "Starting kubelet.",
    );
    wait_for(&api, |items| {
        items.iter().any(|e| {
            e.reason.as_deref() == Some("Starting")
                && e.involved_object.uid.as_deref() == Some("node-1")
        })
    })
    .await;
}
