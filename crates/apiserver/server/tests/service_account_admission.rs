//! The ServiceAccount admission plugin against the real server: a pod runs as `default`
//! unless it names another account, an account that does not exist is refused with
//! kube-apiserver's words, and the `kube-api-access-*` projected volume is added to every
//! container unless the pod or its account turns automounting off.

#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use support::TestServer;

async fn server() -> TestServer {
    TestServer::start_with(podnet_apiserver::Config {
        service_account_admission: true,
        ..Default::default()
    })
    .await
}

fn pod(name: &str, spec: serde_json::Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn containers() -> serde_json::Value {
    json!([{"name": "a", "image": "busybox"}, {"name": "b", "image": "busybox"}])
}

async fn account(server: &TestServer, name: &str, automount: Option<bool>) {
    let api: Api<ServiceAccount> = Api::namespaced(server.client(), "default");
    let mut sa = json!({"metadata": {"name": name}});
    if let Some(a) = automount {
        sa["automountServiceAccountToken"] = json!(a);
    }
    let sa = serde_json::from_value(sa).unwrap();
    api.create(&PostParams::default(), &sa).await.unwrap();
}

#[tokio::test]
async fn a_pod_whose_service_account_is_missing_is_forbidden() {
    let server = server().await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let err = pods
        .create(
            &PostParams::default(),
            &pod("web", json!({"containers": containers()})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err}")
    };
    assert_eq!(status.code, 403);
    assert_eq!(
        status.message,
        "pods \"web\" is forbidden: error looking up service account default/default: \
         serviceaccount \"default\" not found"
    );
}

#[tokio::test]
async fn the_token_volume_is_mounted_in_every_container_of_a_default_pod() {
    let server = server().await;
    account(&server, "default", None).await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let created = pods
        .create(
            &PostParams::default(),
            &pod("web", json!({"containers": containers()})),
        )
        .await
        .unwrap();
    let spec = serde_json::to_value(created.spec.unwrap()).unwrap();
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    let volume = &spec["volumes"][0];
    let name = volume["name"].as_str().unwrap();
    assert!(
        name.starts_with("kube-api-access-") && name.len() == 21,
        "{name}"
    );
    assert_eq!(
        volume["projected"]["sources"][0]["serviceAccountToken"],
        json!({"expirationSeconds": 3607, "path": "token"})
    );
    for c in spec["containers"].as_array().unwrap() {
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": name, "readOnly": true,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        );
    }
}

#[tokio::test]
async fn automounting_is_off_when_the_pod_or_its_account_says_so() {
    let server = server().await;
    account(&server, "quiet", Some(false)).await;
    account(&server, "default", None).await;
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let pp = PostParams::default();
    let by_account = pods
        .create(
            &pp,
            &pod(
                "a",
                json!({"serviceAccountName": "quiet", "containers": containers()}),
            ),
        )
        .await
        .unwrap();
    let by_pod = pods
        .create(
            &pp,
            &pod(
                "b",
                json!({"automountServiceAccountToken": false, "containers": containers()}),
            ),
        )
        .await
        .unwrap();
    // The pod's own setting wins over its account's.
    let pod_wins = pods
        .create(
            &pp,
            &pod(
                "c",
                json!({"serviceAccountName": "quiet", "automountServiceAccountToken": true,
                "containers": containers()}),
            ),
        )
        .await
        .unwrap();
    let volumes = |p: &Pod| {
        p.spec
            .as_ref()
            .unwrap()
            .volumes
            .clone()
            .unwrap_or_default()
            .len()
    };
    assert_eq!(volumes(&by_account), 0);
    assert_eq!(volumes(&by_pod), 0);
    assert_eq!(volumes(&pod_wins), 1);
}
