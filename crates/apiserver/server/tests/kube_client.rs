//! The server driven by kube-rs, as controllers will drive it.

#[path = "support/server.rs"]
mod support;

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Error};
use serde_json::json;
use support::TestServer;

fn pod(name: &str, labels: serde_json::Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}))
    .unwrap()
}

fn code(e: &Error) -> u16 {
    match e {
        Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn crud_through_kube_rs() {
    let server = TestServer::start().await;
    let client = server.client();
    let ns: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = ns
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let created = pods
        .create(&PostParams::default(), &pod("a", json!({"app": "web"})))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let mut fetched = pods.get("a").await.unwrap();
    fetched.spec.as_mut().unwrap().node_name = Some("node-1".into());
    let replaced = pods
        .replace("a", &PostParams::default(), &fetched)
        .await
        .unwrap();
    assert_eq!(replaced.spec.unwrap().node_name.as_deref(), Some("node-1"));

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}))
    .unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let scale = deploys
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    assert_eq!(deploys.get("web").await.unwrap().spec.replicas, Some(3));

    // Server-side apply creates, then changes what the manager owns.
    let ssa = PatchParams::apply("test-manager");
    let cfg = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    services
        .patch("web", &ssa, &Patch::Apply(&cfg))
        .await
        .unwrap();
    let svc = services.get("web").await.unwrap();
    assert_eq!(
        svc.spec.unwrap().ports.unwrap()[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
    );

    pods.delete("a", &DeleteParams::default()).await.unwrap();
    // Scheduled onto a node: terminating until the node confirms with grace 0.
    let terminating = pods.get("a").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    pods.delete(
        "a",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(code(&pods.get("a").await.unwrap_err()), 404);
}

#[tokio::test]
async fn conflicts_and_already_exists_are_409() {
    let server = TestServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let first = pods
        .create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap();
    let again = pods
        .create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap_err();
    assert_eq!(code(&again), 409);
    assert!(again.to_string().contains("already exists"), "{again}");

    let mut stale = first.clone();
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"x": "1"}}})),
    )
    .await
    .unwrap();
    stale.metadata.labels = Some([("y".to_string(), "2".to_string())].into());
    let conflict = pods
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(code(&conflict), 409);
    assert!(
        conflict
            .to_string()
            .contains("the object has been modified"),
        "{conflict}"
    );
    let missing_ns: Api<Pod> = Api::namespaced(server.client(), "nope");
    let e = missing_ns
        .create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap_err();
    assert_eq!(code(&e), 404);
}

#[tokio::test]
async fn validation_errors_name_the_field_like_the_api_server() {
    let server = TestServer::start().await;
    let cases = [
        (
            "/api/v1/namespaces/default/services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                "spec": {"ports": [{"port": 70000}]}}),
            "spec.ports[0].port",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}),
            "spec.containers",
            "Required value",
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Bad_Name"},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}),
            "metadata.name",
            "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain",
        ),
        (
            "/apis/apps/v1/namespaces/default/deployments",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                "spec": {"selector": {"matchLabels": {"app": "a"}},
                    "template": {"metadata": {"labels": {"app": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
            "spec.template.metadata.labels",
            "Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`",
        ),
        (
            "/api/v1/namespaces/default/pods",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "x",
                    "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]}}),
            "spec.containers[0].ports[0].protocol",
            "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ),
    ];
    for (path, body, field, message) in cases {
        let (code, status) = server
            .raw("POST", path, "application/json", &body.to_string())
            .await;
        assert_eq!(code, 422, "{status}");
        assert_eq!(status["reason"], "Invalid");
        let cause = &status["details"]["causes"][0];
        assert_eq!(cause["field"], field, "{status}");
        assert!(
            cause["message"].as_str().unwrap().starts_with(message),
            "{status}"
        );
        assert!(
            status["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{field}: {message}"))
        );
    }
    // An undecodable body is 400, as is a wrongly typed field.
    let (code, _) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            "{nope",
        )
        .await;
    assert_eq!(code, 400);
    let wrong = json!({"metadata": {"name": "p"}, "spec": {"containers": "c"}});
    let (code, status) = server
        .raw(
            "POST",
            "/api/v1/namespaces/default/pods",
            "application/json",
            &wrong.to_string(),
        )
        .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("spec.containers"),
        "{status}"
    );
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let server = TestServer::start().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    for (name, app, node) in [("a", "web", "n1"), ("b", "web", "n2"), ("c", "db", "n1")] {
        let mut p = pod(name, json!({"app": app}));
        p.spec.as_mut().unwrap().node_name = Some(node.into());
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let names = |l: kube::core::ObjectList<Pod>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect()
    };
    let web = pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(names(web), ["a", "b"]);
    let on_n1 = pods
        .list(&ListParams::default().fields("spec.nodeName=n1"))
        .await
        .unwrap();
    assert_eq!(names(on_n1), ["a", "c"]);
    let both = pods
        .list(
            &ListParams::default()
                .labels("app in (web,db),app!=db")
                .fields("spec.nodeName!=n2"),
        )
        .await
        .unwrap();
    assert_eq!(names(both), ["a"]);
    let bad = pods
        .list(&ListParams::default().fields("spec.image=x"))
        .await
        .unwrap_err();
    assert_eq!(code(&bad), 400);
}

#[tokio::test]
async fn a_watcher_sees_every_change_in_order_and_recovers_after_a_restart() {
    let mut server = TestServer::start().await;
    let client = server.client();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut events = watcher(pods.clone(), watcher::Config::default()).boxed();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = events.next().await {
            let item = match e {
                Ok(watcher::Event::Apply(p)) => format!("apply {}", p.metadata.name.unwrap()),
                Ok(watcher::Event::Delete(p)) => format!("delete {}", p.metadata.name.unwrap()),
                Ok(watcher::Event::InitApply(p)) => format!("init {}", p.metadata.name.unwrap()),
                Ok(watcher::Event::Init) => "init".into(),
                Ok(watcher::Event::InitDone) => "init-done".into(),
                Err(_) => continue,
            };
            if tx.send(item).is_err() {
                break;
            }
        }
    });
    assert_eq!(next(&mut rx).await, "init");
    assert_eq!(next(&mut rx).await, "init-done");
    pods.create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap();
    pods.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"v": "2"}}})),
    )
    .await
    .unwrap();
    pods.create(&PostParams::default(), &pod("b", json!({})))
        .await
        .unwrap();
    pods.delete("a", &DeleteParams::default()).await.unwrap();
    for want in ["apply a", "apply a", "apply b", "delete a"] {
        assert_eq!(next(&mut rx).await, want);
    }

    server.restart().await;
    // After the restart the watch resumes (or relists); a change made now still arrives.
    pods.create(&PostParams::default(), &pod("c", json!({})))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&"apply c".to_string()) && !seen.contains(&"init c".to_string()) {
        seen.push(next(&mut rx).await);
    }
    let pods_after: Vec<String> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert_eq!(pods_after, ["b", "c"]);
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("an event within 20 s")
        .expect("the watcher is running")
}
