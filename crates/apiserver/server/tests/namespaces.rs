//! Namespace lifecycle as upstream: created with the `kubernetes` finalizer, Terminating on
//! delete (visible, refusing new content) until finalized, removed once no finalizer is left;
//! with the lab's namespace controller, `kubectl delete namespace` empties and removes it.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Error};
use podnet_lab_controllers::CancellationToken;
use serde_json::{Value, json};
use support::TestServer;

fn code_of<T>(r: Result<T, Error>) -> u16 {
    r.map_or_else(|e| code(&e), |_| 200)
}

fn code(e: &Error) -> u16 {
    match e {
        Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

async fn create_namespace(client: &Client, name: &str) -> Namespace {
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &from(json!({"metadata": {"name": name}})),
        )
        .await
        .unwrap()
}

fn phase(ns: &Namespace) -> Option<&str> {
    ns.status.as_ref()?.phase.as_deref()
}

fn spec_finalizers(ns: &Namespace) -> Vec<String> {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default()
}

/// PUT namespaces/NAME/finalize with `finalizers`, as the namespace controller does.
async fn finalize(api: &Api<Namespace>, name: &str, finalizers: &[&str]) -> Namespace {
    let mut ns = api.get(name).await.unwrap();
    ns.spec.get_or_insert_with(Default::default).finalizers =
        Some(finalizers.iter().map(|f| f.to_string()).collect());
    api.replace_subresource("finalize", name, &PostParams::default(), &ns)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deleted_namespace_stays_terminating_and_refuses_content_until_finalized() {
    let server = TestServer::start().await;
    let client = server.client();
    let api: Api<Namespace> = Api::all(client.clone());
    let created = create_namespace(&client, "team-a").await;
    assert_eq!(spec_finalizers(&created), ["kubernetes"]);
    assert_eq!(phase(&created), Some("Active"));

    let deleted = api
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the namespace is returned, terminating");
    assert!(deleted.metadata.deletion_timestamp.is_some());
    assert_eq!(phase(&deleted), Some("Terminating"));

    // No controller runs here: it stays, visible and terminating.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = api.get("team-a").await.unwrap();
    assert_eq!(phase(&still), Some("Terminating"));
    assert_eq!(spec_finalizers(&still), ["kubernetes"]);

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let err = cms
        .create(
            &PostParams::default(),
            &from(json!({"metadata": {"name": "c"}})),
        )
        .await
        .unwrap_err();
    assert_eq!(code(&err), 403);
    assert!(
        err.to_string().contains(
            "unable to create new content in namespace team-a because it is being terminated"
        ),
        "{err}"
    );
    // Deleting again while it is being emptied is a 409, as upstream.
    let again = api.delete("team-a", &DeleteParams::default()).await;
    assert_eq!(code_of(again), 409);

    let finalized = finalize(&api, "team-a", &[]).await;
    assert!(spec_finalizers(&finalized).is_empty());
    assert_eq!(code_of(api.get("team-a").await), 404);
}

#[tokio::test]
async fn metadata_finalizers_hold_a_finalized_namespace_until_they_are_removed() {
    let server = TestServer::start().await;
    let client = server.client();
    let api: Api<Namespace> = Api::all(client.clone());
    api.create(
        &PostParams::default(),
        &from(json!({"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})),
    )
    .await
    .unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    finalize(&api, "held", &[]).await;
    let still = api.get("held").await.unwrap();
    assert_eq!(phase(&still), Some("Terminating"));
    let patch = json!({"metadata": {"finalizers": null}});
    api.patch("held", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(code_of(api.get("held").await), 404);
}

#[tokio::test]
async fn finalize_takes_only_spec_finalizers_with_valid_names() {
    let server = TestServer::start().await;
    let client = server.client();
    let api: Api<Namespace> = Api::all(client.clone());
    create_namespace(&client, "team-b").await;
    let mut ns = api.get("team-b").await.unwrap();
    ns.spec.as_mut().unwrap().finalizers = Some(vec!["cleanup".into()]);
    let err = api
        .replace_subresource("finalize", "team-b", &PostParams::default(), &ns)
        .await
        .unwrap_err();
    assert_eq!(code(&err), 422);
    assert!(
        err.to_string().contains(
            "spec.finalizers[0]: Invalid value: \"cleanup\": name is neither a standard \
             finalizer name nor is it fully qualified"
        ),
        "{err}"
    );
    // A plain update cannot change spec.finalizers; finalize can, and nothing else.
    let mut ns = api.get("team-b").await.unwrap();
    ns.spec.as_mut().unwrap().finalizers = Some(vec![]);
    let updated = api
        .replace("team-b", &PostParams::default(), &ns)
        .await
        .unwrap();
    assert_eq!(spec_finalizers(&updated), ["kubernetes"]);
    let finalized = finalize(&api, "team-b", &["example.com/x"]).await;
    assert_eq!(spec_finalizers(&finalized), ["example.com/x"]);
    assert_eq!(
        phase(&finalized),
        Some("Active"),
        "not being deleted: it stays"
    );
    // Namespaces have no deletecollection upstream, nor here.
    let all = api
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await;
    assert_eq!(code_of(all), 405);
}

#[tokio::test]
async fn system_namespaces_may_not_be_deleted() {
    let server = TestServer::start().await;
    let api: Api<Namespace> = Api::all(server.client());
    for name in ["default", "kube-system", "kube-public"] {
        let r = api.delete(name, &DeleteParams::default()).await;
        assert_eq!(code_of(r), 403, "{name}");
    }
}

#[tokio::test]
async fn with_the_namespace_controller_kubectl_delete_namespace_empties_and_removes_it() {
    let server = TestServer::start().await;
    let client = server.client();
    let stop = CancellationToken::new();
    let controller = tokio::spawn(podnet_lab_controllers::namespace::run(
        client.clone(),
        stop.clone(),
    ));
    create_namespace(&client, "team-c").await;
    let pp = PostParams::default();
    Api::<ConfigMap>::namespaced(client.clone(), "team-c")
        .create(&pp, &from(json!({"metadata": {"name": "settings"}})))
        .await
        .unwrap();
    let svc: Service = Api::namespaced(client.clone(), "team-c")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "web"},
                "spec": {"type": "NodePort", "ports": [{"port": 80}]}})),
        )
        .await
        .unwrap();
    Api::<Deployment>::namespaced(client.clone(), "team-c")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "web"}, "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})),
        )
        .await
        .unwrap();
    Api::<Pod>::namespaced(client.clone(), "team-c")
        .create(
            &pp,
            &from(json!({"metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}})),
        )
        .await
        .unwrap();
    Api::<Lease>::namespaced(client.clone(), "team-c")
        .create(&pp, &from(json!({"metadata": {"name": "l"}, "spec": {}})))
        .await
        .unwrap();

    let k = kubectl::Kubectl::new(&server.url());
    // kubectl waits until the namespace is gone.
    let out = k
        .run(&["delete", "namespace", "team-c", "--timeout=30s"])
        .await;
    assert!(out.contains("namespace \"team-c\" deleted"), "{out}");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert_eq!(code_of(namespaces.get("team-c").await), 404);
    let lp = ListParams::default();
    assert!(
        Api::<ConfigMap>::namespaced(client.clone(), "team-c")
            .list(&lp)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        Api::<Pod>::namespaced(client.clone(), "team-c")
            .list(&lp)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // The Service's allocations went with it.
    let spec = svc.spec.unwrap();
    let again: Service = from(json!({"metadata": {"name": "reuse"}, "spec": {
        "type": "NodePort", "clusterIP": spec.cluster_ip,
        "ports": [{"port": 80, "nodePort": spec.ports.unwrap()[0].node_port}]}}));
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&pp, &again)
        .await
        .unwrap();
    stop.cancel();
    controller.await.unwrap().unwrap();
}
