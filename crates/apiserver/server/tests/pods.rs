//! Pods' own API: the `binding` subresource a scheduler binds through, and graceful deletion
//! with the node's handshake (a scheduled pod stays Terminating until its kubelet deletes it
//! with grace 0; an unscheduled one, or a forced delete, goes at once).

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::{Binding, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Error};
use serde_json::{Value, json};
use support::TestServer;

fn code(e: &Error) -> u16 {
    match e {
        Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

fn code_of<T>(r: Result<T, Error>) -> u16 {
    r.map_or_else(|e| code(&e), |_| 200)
}

fn pod(name: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["containers"] = json!([{"name": "c", "image": "busybox:1.36"}]);
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn binding(pod: &str, node: &str) -> Binding {
    serde_json::from_value(json!({"metadata": {"name": pod,
            "annotations": {"example.com/bound-by": "test"}},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}}))
    .unwrap()
}

async fn bind(api: &Api<Pod>, pod: &str, b: &Binding) -> Result<Value, Error> {
    api.create_subresource("binding", pod, &PostParams::default(), b)
        .await
}

fn node_name(p: &Pod) -> Option<&str> {
    p.spec.as_ref()?.node_name.as_deref()
}

#[tokio::test]
async fn binding_sets_the_node_once_and_a_second_binding_is_a_conflict() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let status = bind(&api, "p", &binding("p", "lab-worker")).await.unwrap();
    assert_eq!(status["status"], "Success");
    let bound = api.get("p").await.unwrap();
    assert_eq!(node_name(&bound), Some("lab-worker"));
    assert_eq!(
        bound.metadata.annotations.as_ref().unwrap()["example.com/bound-by"],
        "test"
    );
    let scheduled = bound
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
        .expect("a PodScheduled condition");
    assert_eq!(scheduled.status, "True");

    let err = bind(&api, "p", &binding("p", "lab-worker2"))
        .await
        .unwrap_err();
    assert_eq!(code(&err), 409);
    assert!(
        err.to_string().contains(
            r#"Operation cannot be fulfilled on pods/binding "p": pod p is already assigned to node "lab-worker""#
        ),
        "{err}"
    );
    assert_eq!(node_name(&api.get("p").await.unwrap()), Some("lab-worker"));
}

#[tokio::test]
async fn a_binding_must_name_its_pod_and_a_node_and_the_pod_must_not_be_terminating() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    api.create(&pp, &pod("p", json!({}))).await.unwrap();
    assert_eq!(code_of(bind(&api, "p", &binding("q", "n")).await), 400);
    assert_eq!(code_of(bind(&api, "p", &binding("p", "")).await), 422);
    assert_eq!(
        code_of(bind(&api, "missing", &binding("missing", "n")).await),
        404
    );
    let mut uid_mismatch = binding("p", "n");
    uid_mismatch.metadata.uid = Some("not-the-pods".into());
    assert_eq!(code_of(bind(&api, "p", &uid_mismatch).await), 409);

    // A finalizer keeps a deleted, unscheduled pod around: it may not be bound any more.
    let mut held = pod("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&pp, &held).await.unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let err = bind(&api, "held", &binding("held", "n")).await.unwrap_err();
    assert_eq!(code(&err), 409);
    assert!(err.to_string().contains("is being deleted"), "{err}");
}

#[tokio::test]
async fn discovery_lists_pods_binding_for_create_only() {
    let server = TestServer::start().await;
    let client = server.client();
    let core = client.list_core_api_resources("v1").await.unwrap();
    let find = |name: &str| {
        core.resources
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} not in discovery"))
    };
    let binding = find("pods/binding");
    assert_eq!(binding.kind, "Binding");
    assert_eq!(binding.verbs, ["create"]);
    assert_eq!(find("namespaces/finalize").verbs, ["update"]);
    assert!(
        !find("namespaces")
            .verbs
            .contains(&"deletecollection".into())
    );
    // GET on a create-only subresource is refused.
    let (code, _) = server
        .raw(
            "GET",
            "/api/v1/namespaces/default/pods/p/binding",
            "application/json",
            "",
        )
        .await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn an_unscheduled_pod_is_deleted_at_once() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    api.create(&PostParams::default(), &pod("p", json!({})))
        .await
        .unwrap();
    let gone = api.delete("p", &DeleteParams::default()).await.unwrap();
    assert!(gone.is_left(), "the last state is returned");
    assert_eq!(code_of(api.get("p").await), 404);
}

#[tokio::test]
async fn a_scheduled_pod_stays_terminating_until_its_kubelet_deletes_it_with_grace_zero() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    let spec = json!({"nodeName": "lab-worker", "terminationGracePeriodSeconds": 5});
    api.create(&PostParams::default(), &pod("p", spec))
        .await
        .unwrap();
    let marked = api
        .delete("p", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the terminating pod");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(5));
    // A client's second delete does not remove it; only the node's grace-0 delete does.
    api.delete("p", &DeleteParams::default()).await.unwrap();
    let still = api.get("p").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    api.delete("p", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(code_of(api.get("p").await), 404);
}

#[tokio::test]
async fn a_scheduled_pod_that_finished_is_deleted_at_once() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    api.create(
        &PostParams::default(),
        &pod("p", json!({"nodeName": "lab-worker"})),
    )
    .await
    .unwrap();
    let done = json!({"status": {"phase": "Succeeded"}});
    api.patch_status("p", &PatchParams::default(), &Patch::Merge(&done))
        .await
        .unwrap();
    api.delete("p", &DeleteParams::default()).await.unwrap();
    assert_eq!(code_of(api.get("p").await), 404);
}

#[tokio::test]
async fn kubectl_delete_pod_with_grace_zero_and_force_removes_it_at_once() {
    let server = TestServer::start().await;
    let api: Api<Pod> = Api::namespaced(server.client(), "default");
    api.create(
        &PostParams::default(),
        &pod("p", json!({"nodeName": "lab-worker"})),
    )
    .await
    .unwrap();
    let k = kubectl::Kubectl::new(&server.url());
    let (ok, out, err) = k
        .try_run(&["delete", "pod", "p", "--grace-period=0", "--force"])
        .await;
    assert!(ok, "{err}\n{out}");
    assert!(out.contains("pod \"p\" force deleted"), "{out}");
    assert_eq!(code_of(api.get("p").await), 404);
}
