//! Events through both APIs against the real server: one storage seen as core/v1 and
//! events.k8s.io/v1, field selectors, validation and expiry.

#[path = "support/server.rs"]
mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use support::TestServer;

fn core_event(name: &str, pod: &str, reason: &str, component: &str) -> CoreEvent {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": pod, "uid": format!("uid-{pod}"),
            "apiVersion": "v1", "fieldPath": "spec.containers{c}"},
        "reason": reason, "message": format!("{reason} for {pod}"), "type": "Normal",
        "source": {"component": component, "host": "node-1"},
        "firstTimestamp": "2026-12-07T10:00:00Z", "lastTimestamp": "2026-12-07T10:00:00Z",
        "count": 1}))
    .unwrap()
}

fn v1_event(name: &str) -> Event {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "eventTime": "2026-12-07T10:00:00.000000Z",
        "reportingController": "default-scheduler", "reportingInstance": "default-scheduler-lab",
        "action": "Binding", "reason": "Scheduled", "type": "Normal",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web-2"},
        "note": "Successfully assigned default/web-2 to node-1"}))
    .unwrap()
}

#[tokio::test]
async fn an_event_written_through_one_api_reads_through_the_other() {
    let server = TestServer::start().await;
    let core: Api<CoreEvent> = Api::namespaced(server.client(), "default");
    let v1: Api<Event> = Api::namespaced(server.client(), "default");

    core.create(
        &PostParams::default(),
        &core_event("web-1.a", "web-1", "Started", "kubelet"),
    )
    .await
    .unwrap();
    let seen = v1.get("web-1.a").await.unwrap();
    assert_eq!(seen.note.as_deref(), Some("Started for web-1"));
    assert_eq!(seen.regarding.unwrap().name.as_deref(), Some("web-1"));
    assert_eq!(seen.deprecated_count, Some(1));
    let source = seen.deprecated_source.unwrap();
    assert_eq!(source.component.as_deref(), Some("kubelet"));
    assert_eq!(source.host.as_deref(), Some("node-1"));

    v1.create(&PostParams::default(), &v1_event("web-2.b"))
        .await
        .unwrap();
    let seen = core.get("web-2.b").await.unwrap();
    assert_eq!(
        seen.message.as_deref(),
        Some("Successfully assigned default/web-2 to node-1")
    );
    assert_eq!(seen.involved_object.name.as_deref(), Some("web-2"));
    assert_eq!(
        seen.reporting_component.as_deref(),
        Some("default-scheduler")
    );
    assert_eq!(seen.action.as_deref(), Some("Binding"));

    // A series started through events.k8s.io is what core/v1 readers see too.
    let series = json!({"series": {"count": 2, "lastObservedTime": "2026-12-07T10:01:00.000000Z"}});
    v1.patch("web-2.b", &PatchParams::default(), &Patch::Merge(&series))
        .await
        .unwrap();
    assert_eq!(
        core.get("web-2.b").await.unwrap().series.unwrap().count,
        Some(2)
    );

    // Both lists hold the same two objects, each in its own form.
    let names = |items: Vec<String>| {
        let mut items = items;
        items.sort();
        items
    };
    let via_core = core.list(&ListParams::default()).await.unwrap();
    let via_v1 = v1.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        names(
            via_core
                .items
                .iter()
                .map(|e| e.metadata.name.clone().unwrap())
                .collect()
        ),
        ["web-1.a", "web-2.b"]
    );
    assert_eq!(
        names(
            via_v1
                .items
                .iter()
                .map(|e| e.metadata.name.clone().unwrap())
                .collect()
        ),
        ["web-1.a", "web-2.b"]
    );
}

#[tokio::test]
async fn field_selectors_of_both_apis_select_events() {
    let server = TestServer::start().await;
    let core: Api<CoreEvent> = Api::namespaced(server.client(), "default");
    let v1: Api<Event> = Api::namespaced(server.client(), "default");
    for (name, pod, reason, component) in [
        ("a.1", "a", "Started", "kubelet"),
        ("a.2", "a", "Killing", "kubelet"),
        ("b.1", "b", "Started", "kubelet"),
    ] {
        core.create(
            &PostParams::default(),
            &core_event(name, pod, reason, component),
        )
        .await
        .unwrap();
    }
    v1.create(&PostParams::default(), &v1_event("web-2.s"))
        .await
        .unwrap();
    let core_names = |selector: &'static str| {
        let core = core.clone();
        async move {
            let mut names: Vec<String> = core
                .list(&ListParams::default().fields(selector))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.metadata.name.unwrap())
                .collect();
            names.sort();
            names
        }
    };
    // What kubectl describe asks for.
    assert_eq!(
        core_names(
            "involvedObject.name=a,involvedObject.namespace=default,involvedObject.kind=Pod,involvedObject.uid=uid-a"
        )
        .await,
        ["a.1", "a.2"]
    );
    assert_eq!(core_names("reason=Started").await, ["a.1", "b.1"]);
    assert_eq!(core_names("source=kubelet,reason!=Started").await, ["a.2"]);
    assert_eq!(
        core_names("reportingComponent=default-scheduler").await,
        ["web-2.s"]
    );
    assert_eq!(
        core_names("involvedObject.fieldPath=spec.containers{c}")
            .await
            .len(),
        3
    );

    let v1_names: Vec<String> = v1
        .list(&ListParams::default().fields("regarding.name=a,reason=Killing"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.metadata.name.unwrap())
        .collect();
    assert_eq!(v1_names, ["a.2"]);
    let by_controller = v1
        .list(&ListParams::default().fields("reportingController=default-scheduler"))
        .await
        .unwrap();
    assert_eq!(by_controller.items.len(), 1);

    let (code, status) = server
        .raw(
            "GET",
            "/apis/events.k8s.io/v1/events?fieldSelector=involvedObject.name%3Da",
            "",
            "",
        )
        .await;
    assert_eq!(code, 400, "{status}");
    assert_eq!(
        status["message"],
        "field label not supported: involvedObject.name"
    );
}

#[tokio::test]
async fn events_are_validated_as_kube_apiserver_does() {
    let server = TestServer::start().await;
    let mut wrong_ns = serde_json::to_value(core_event("x.1", "x", "Started", "kubelet")).unwrap();
    wrong_ns["involvedObject"]["namespace"] = json!("other");
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/events",
            "application/json",
            &wrong_ns.to_string(),
        )
        .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "involvedObject.namespace"
    );
    assert_eq!(
        status["details"]["causes"][0]["message"],
        "Invalid value: \"other\": does not match event.namespace"
    );

    let mut no_time = serde_json::to_value(v1_event("y.1")).unwrap();
    no_time.as_object_mut().unwrap().remove("eventTime");
    let (code, status) = server
        .raw(
            "POST",
            "/apis/events.k8s.io/v1/namespaces/default/events",
            "application/json",
            &no_time.to_string(),
        )
        .await;
    assert_eq!(code, 422, "{status}");
    let fields: Vec<&Value> = status["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["field"])
        .collect();
    assert_eq!(fields, [&json!("eventTime")], "{status}");
}

#[tokio::test]
async fn an_event_expires_after_its_ttl_with_a_deleted_watch_event() {
    let config = podnet_apiserver::Config {
        event_ttl: Duration::from_secs(2),
        ..Default::default()
    };
    let server = TestServer::start_with(config).await;
    let core: Api<CoreEvent> = Api::namespaced(server.client(), "default");
    let v1: Api<Event> = Api::namespaced(server.client(), "default");
    let created = core
        .create(
            &PostParams::default(),
            &core_event("gone.1", "gone", "Started", "kubelet"),
        )
        .await
        .unwrap();
    let rv = created.metadata.resource_version.unwrap();
    let mut watch = v1
        .watch(&WatchParams::default().timeout(120), &rv)
        .await
        .unwrap()
        .boxed();
    let deleted = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(event) = watch.try_next().await.unwrap() {
            if let WatchEvent::Deleted(ev) = event {
                return ev;
            }
        }
        panic!("the watch ended without a DELETED event");
    })
    .await
    .expect("the event expires");
    assert_eq!(deleted.metadata.name.as_deref(), Some("gone.1"));
    assert_eq!(
        deleted.note.as_deref(),
        Some("Started for gone"),
        "in the watch's own form"
    );
    assert!(core.get_opt("gone.1").await.unwrap().is_none());
    let pods: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(server.client());
    assert!(
        pods.get("default").await.is_ok(),
        "other kinds never expire"
    );
}
