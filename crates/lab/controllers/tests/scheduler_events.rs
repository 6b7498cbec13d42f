//! The scheduler's events against the real lab API server: Scheduled and FailedScheduling
//! in kube-scheduler's words.

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::{Lab, eventually};

fn pod(name: &str, node_selector: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeSelector": node_selector,
            "containers": [{"name": "web", "image": "nginx"}]},
    }))
    .unwrap()
}

/// The one event about pod `name` with `reason`, once it is there.
async fn event_of(lab: &Lab, name: &str, reason: &str) -> Event {
    let events: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let selector = format!("involvedObject.kind=Pod,involvedObject.name={name},reason={reason}");
    eventually(&format!("a {reason} event about {name}"), || async {
        let list = events
            .list(&ListParams::default().fields(&selector))
            .await
            .ok()?;
        list.items.into_iter().next()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_is_told_in_events() {
    let lab = Lab::start(false).await;
    let pods: Api<Pod> = Api::namespaced(lab.client.clone(), "default");
    pods.create(&PostParams::default(), &pod("placed", json!({})))
        .await
        .unwrap();
    pods.create(
        &PostParams::default(),
        &pod("stuck", json!({"disktype": "ssd"})),
    )
    .await
    .unwrap();

    let scheduled = event_of(&lab, "placed", "Scheduled").await;
    let node = pods
        .get("placed")
        .await
        .unwrap()
        .spec
        .unwrap()
        .node_name
        .unwrap();
    assert_eq!(
        scheduled.message.as_deref(),
        Some(format!("Successfully assigned default/placed to {node}").as_str())
    );
    assert_eq!(scheduled.type_.as_deref(), Some("Normal"));
    assert_eq!(
        scheduled.source.unwrap().component.as_deref(),
        Some("default-scheduler")
    );

    // Each new reason is told again: once the three nodes are registered, the message
    // counts them all.
    let events: Api<Event> = Api::namespaced(lab.client.clone(), "default");
    let selector = "involvedObject.name=stuck,reason=FailedScheduling";
    let failed = eventually("FailedScheduling over the three nodes", || async {
        let list = events
            .list(&ListParams::default().fields(selector))
            .await
            .ok()?;
        list.items.into_iter().find(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("0/3 nodes are available: "))
        })
    })
    .await;
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    assert_eq!(
        failed.message.as_deref(),
        Some(
            "0/3 nodes are available: 1 node(s) had untolerated taint \
             {node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match Pod's node \
             affinity/selector."
        )
    );
    lab.stop().await;
}
