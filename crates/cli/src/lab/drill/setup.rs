//! The drills' app in namespace `drill`, applied server-side (re-applying restores it).

use anyhow::Context;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service, ServiceAccount};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

pub const NS: &str = "drill";
const MANAGER: &str = "podnet-drill";

/// The path every drill starts from and returns to: the client to the Service by name.
pub fn healthy_path() -> (String, String) {
    ("drill/client".to_owned(), "web:80".to_owned())
}

pub fn container(probe: Option<Value>) -> Value {
    let mut c = json!({
        "name": "netexec",
        "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
        "args": ["netexec", "--http-port=8080"],
        "ports": [{"name": "http", "containerPort": 8080}]
    });
    if let Some(p) = probe {
        c["readinessProbe"] = p;
    }
    c
}

pub fn deployment(replicas: i32, probe: Option<Value>) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": replicas,
            // Recreate: a broken template replaces every pod (a rolling update would keep
            // the old ready ones, and nothing would break).
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [container(probe)]}}
        }
    })
}

pub fn service(selector: &str, local: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "type": "NodePort",
            "selector": {"app": selector},
            "externalTrafficPolicy": if local { "Local" } else { "Cluster" },
            "ports": [{"port": 80, "targetPort": "http"}]
        }
    })
}

/// Server-side apply of `body`, object `name` of kind `K` in the drill's namespace.
pub async fn apply<K>(client: &kube::Client, name: &str, body: Value) -> anyhow::Result<()>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), NS);
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(super::super::client::api_error)
    .with_context(|| format!("applying {name}"))?;
    Ok(())
}

/// The app, as it is when healthy.
pub async fn app(client: &kube::Client) -> anyhow::Result<()> {
    let ns: Api<Namespace> = Api::all(client.clone());
    ns.patch(
        NS,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})),
    )
    .await
    .map_err(super::super::client::api_error)
    .context("creating namespace drill")?;
    // Pods are admitted once the namespace's default ServiceAccount exists.
    let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), NS);
    let deadline = std::time::Instant::now() + super::SETTLE;
    while sa
        .get_opt("default")
        .await
        .map_err(super::super::client::api_error)?
        .is_none()
    {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "namespace drill got no default ServiceAccount"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    apply::<Deployment>(client, "web", deployment(2, None)).await?;
    apply::<Service>(client, "web", service("web", false)).await?;
    apply::<Pod>(
        client,
        "client",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "client", "namespace": NS, "labels": {"app": "client"}},
            "spec": {"containers": [container(None)]}
        }),
    )
    .await
}
