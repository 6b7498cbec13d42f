//! The serviceaccounts and root-ca-cert-publisher controllers against the real API server.

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use support::{Lab, ROOT_CA, eventually};

async fn ca_of(client: &kube::Client, ns: &str) -> Option<String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm = api.get_opt("kube-root-ca.crt").await.unwrap()?;
    cm.data?.get("ca.crt").cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_gets_a_default_service_account_and_the_root_ca_back_after_deletion() {
    let lab = Lab::start(false).await;
    let client = &lab.client;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let team: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &team)
        .await
        .unwrap();

    for ns in ["default", "kube-system", "team-a"] {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        eventually(&format!("default service account in {ns}"), || async {
            accounts.get_opt("default").await.unwrap()
        })
        .await;
        eventually(&format!("kube-root-ca.crt in {ns}"), || async {
            ca_of(client, ns).await.filter(|ca| ca == ROOT_CA)
        })
        .await;
    }

    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    let first = accounts.get("default").await.unwrap().metadata.uid;
    accounts
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    eventually("default service account recreated", || async {
        let sa = accounts.get_opt("default").await.unwrap()?;
        (sa.metadata.uid != first).then_some(())
    })
    .await;

    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "team-a");
    let tampered: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "kube-root-ca.crt"}, "data": {"ca.crt": "not the CA"}}))
    .unwrap();
    let mut current = maps.get("kube-root-ca.crt").await.unwrap();
    current.data = tampered.data;
    maps.replace("kube-root-ca.crt", &PostParams::default(), &current)
        .await
        .unwrap();
    eventually("kube-root-ca.crt restored", || async {
        ca_of(client, "team-a").await.filter(|ca| ca == ROOT_CA)
    })
    .await;
    maps.delete("kube-root-ca.crt", &DeleteParams::default())
        .await
        .unwrap();
    eventually("kube-root-ca.crt recreated", || async {
        ca_of(client, "team-a").await.filter(|ca| ca == ROOT_CA)
    })
    .await;
    lab.stop().await;
}
