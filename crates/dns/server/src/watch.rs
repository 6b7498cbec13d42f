//! Watching the cluster through kube-rs: Services, EndpointSlices, Namespaces (and Pods for
//! `pods verified`) into the catalog; the `coredns` ConfigMap's Corefile into reloads.
//! `/ready` stays 503 until every kind has been listed once.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use podnet_dns_records::Catalog;
use podnet_k8s_model::{DnsEndpointSlice, DnsPod, DnsService, namespace_name};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::server::Shared;

/// A client from a kubeconfig file when given, else as kube-rs infers it (in-cluster
/// service account, then `$KUBECONFIG`).
pub async fn client(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<kube::Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let config = match kubeconfig {
        Some(path) => {
            let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
                path: path.to_owned(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(|e| bad(e.into()))?;
            let opts = KubeConfigOptions {
                context: context.map(str::to_owned),
                ..Default::default()
            };
            kube::Config::from_custom_kubeconfig(file, &opts)
                .await
                .map_err(|e| bad(e.into()))?
        }
        None => kube::Config::infer().await.map_err(|e| Error::Kubeconfig {
            path: "(inferred)".into(),
            source: e.into(),
        })?,
    };
    Ok(kube::Client::try_from(config)?)
}

/// One kind of object the catalog is built from.
trait Kind:
    kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static
{
    const NAME: &'static str;
    fn apply(c: &mut Catalog, obj: &Self);
    fn delete(c: &mut Catalog, ns: &str, name: &str);
    fn held(c: &Catalog) -> Vec<(String, String)>;
}

fn key<K: kube::Resource>(obj: &K) -> (String, String) {
    let m = obj.meta();
    (
        m.namespace.clone().unwrap_or_default().to_ascii_lowercase(),
        m.name.clone().unwrap_or_default().to_ascii_lowercase(),
    )
}

fn skip(kind: &str, obj: &impl kube::Resource, error: impl std::fmt::Display) {
    let (ns, name) = key(obj);
    tracing::warn!(kind, namespace = ns, name, %error, "object skipped");
}

impl Kind for Service {
    const NAME: &'static str = "services";
    fn apply(c: &mut Catalog, obj: &Self) {
        match DnsService::from_service(obj) {
            Ok(s) => c.upsert_service(s),
            Err(e) => skip("Service", obj, e),
        }
    }
    fn delete(c: &mut Catalog, ns: &str, name: &str) {
        c.delete_service(ns, name)
    }
    fn held(c: &Catalog) -> Vec<(String, String)> {
        c.service_keys()
    }
}

impl Kind for EndpointSlice {
    const NAME: &'static str = "endpointslices";
    fn apply(c: &mut Catalog, obj: &Self) {
        match DnsEndpointSlice::from_slice(obj) {
            Ok(s) => c.upsert_slice(s),
            Err(e) => skip("EndpointSlice", obj, e),
        }
    }
    fn delete(c: &mut Catalog, ns: &str, name: &str) {
        c.delete_slice(ns, name)
    }
    fn held(c: &Catalog) -> Vec<(String, String)> {
        c.slice_keys()
    }
}

impl Kind for Namespace {
    const NAME: &'static str = "namespaces";
    fn apply(c: &mut Catalog, obj: &Self) {
        match namespace_name(obj) {
            Ok(n) => c.upsert_namespace(&n.to_ascii_lowercase()),
            Err(e) => skip("Namespace", obj, e),
        }
    }
    fn delete(c: &mut Catalog, _ns: &str, name: &str) {
        c.delete_namespace(name)
    }
    fn held(c: &Catalog) -> Vec<(String, String)> {
        c.namespace_names()
            .into_iter()
            .map(|n| (String::new(), n))
            .collect()
    }
}

impl Kind for Pod {
    const NAME: &'static str = "pods";
    fn apply(c: &mut Catalog, obj: &Self) {
        match DnsPod::from_pod(obj) {
            Ok(p) => c.upsert_pod(p),
            Err(e) => skip("Pod", obj, e),
        }
    }
    fn delete(c: &mut Catalog, ns: &str, name: &str) {
        c.delete_pod(ns, name)
    }
    fn held(c: &Catalog) -> Vec<(String, String)> {
        c.pod_keys()
    }
}

/// Watches the objects until the stream ends (never, short of the process stopping):
/// errors are retried with kube-rs's default backoff. `pods`: watch Pods too (verified mode).
pub async fn objects(client: kube::Client, shared: Arc<Shared>, pods: bool) {
    let mut kinds = vec![Service::NAME, EndpointSlice::NAME, Namespace::NAME];
    if pods {
        kinds.push(Pod::NAME);
    }
    for k in &kinds {
        shared.set_pending(&format!("kubernetes ({k})"), true);
    }
    let svc = watch_kind::<Service>(Api::all(client.clone()), shared.clone());
    let eps = watch_kind::<EndpointSlice>(Api::all(client.clone()), shared.clone());
    let ns = watch_kind::<Namespace>(Api::all(client.clone()), shared.clone());
    if pods {
        let pod = watch_kind::<Pod>(Api::all(client), shared);
        tokio::join!(svc, eps, ns, pod);
    } else {
        tokio::join!(svc, eps, ns);
    }
}

async fn watch_kind<K: Kind>(api: Api<K>, shared: Arc<Shared>) {
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut relisted: Option<HashSet<(String, String)>> = None;
    loop {
        let event = match stream.try_next().await {
            Ok(Some(e)) => e,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(kind = K::NAME, %error, "watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => relisted = Some(HashSet::new()),
            Event::InitApply(obj) => {
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(key(&obj));
                }
                shared.edit_catalog(|c| K::apply(c, &obj));
            }
            Event::InitDone => {
                // What the new list did not contain was deleted while we were not watching.
                let seen = relisted.take().unwrap_or_default();
                shared.edit_catalog(|c| {
                    for (ns, name) in K::held(c) {
                        if !seen.contains(&(ns.clone(), name.clone())) {
                            K::delete(c, &ns, &name);
                        }
                    }
                });
                shared.set_pending(&format!("kubernetes ({})", K::NAME), false);
                tracing::info!(kind = K::NAME, "listed");
            }
            Event::Apply(obj) => shared.edit_catalog(|c| K::apply(c, &obj)),
            Event::Delete(obj) => {
                let (ns, name) = key(&obj);
                shared.edit_catalog(|c| K::delete(c, &ns, &name));
            }
        }
    }
}

/// Sends the `Corefile` key of ConfigMap `namespace/name` on every change.
pub async fn corefile(client: kube::Client, namespace: &str, name: &str, tx: mpsc::Sender<String>) {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(api, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    loop {
        match stream.try_next().await {
            Ok(Some(cm)) => match cm.data.as_ref().and_then(|d| d.get("Corefile")) {
                Some(text) => {
                    if tx.send(text.clone()).await.is_err() {
                        return;
                    }
                }
                None => {
                    tracing::warn!(configmap = %format!("{namespace}/{name}"), "no Corefile key; keeping the running configuration")
                }
            },
            Ok(None) => return,
            Err(error) => tracing::warn!(%error, "ConfigMap watch failed; retrying"),
        }
    }
}

/// The ConfigMap's Corefile as it is now (`None` when the ConfigMap or key is missing).
pub async fn corefile_now(
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<String>> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let cm = api.get_opt(name).await?;
    Ok(cm
        .and_then(|c| c.data)
        .and_then(|mut d| d.remove("Corefile")))
}
