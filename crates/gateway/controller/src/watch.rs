//! The controller's loop: one watcher per kind into [`Objects`], and on every change (after
//! each kind has been listed once) a new configuration for the proxy and the status writes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use podnet_gateway_proxy::Config;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::objects::{Key, Objects, key_of};

/// How the controller runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// The IngressClass `spec.controller` value served.
    pub controller: String,
    /// The gateway's own Service (namespace, name): its LoadBalancer address goes into the
    /// served objects' status.
    pub publish_service: Option<Key>,
}

/// A client from a kubeconfig file when given, else in-cluster credentials or $KUBECONFIG.
pub async fn client(kubeconfig: Option<&Path>) -> Result<kube::Client> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let config = match kubeconfig {
        Some(path) => {
            let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::Kubeconfig {
                path: path.to_owned(),
                source,
            };
            let file = Kubeconfig::read_from(path).map_err(|e| bad(e.into()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| bad(e.into()))?
        }
        // In a pod, its ServiceAccount (controller-runtime's order: $KUBECONFIG, then
        // in-cluster, and only then ~/.kube/config, which kube-rs's infer() would try first).
        None if std::env::var_os("KUBECONFIG").is_none()
            && std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() =>
        {
            kube::Config::incluster().map_err(|e| Error::Kubeconfig {
                path: "(in-cluster)".into(),
                source: e.into(),
            })?
        }
        None => kube::Config::infer().await.map_err(|e| Error::Kubeconfig {
            path: "(inferred)".into(),
            source: e.into(),
        })?,
    };
    kube::Client::try_from(config).map_err(Error::Client)
}

/// Kinds watched; the configuration waits for each to be listed once.
const KINDS: usize = 5;

struct Shared {
    objects: Mutex<Objects>,
    /// Bumped on every change; the loop rebuilds when it moves.
    changed: watch::Sender<u64>,
    listed: Mutex<usize>,
}

/// Watches until the process ends, publishing each configuration into `config`.
pub async fn run(
    client: kube::Client,
    options: Options,
    config: watch::Sender<Arc<Config>>,
) -> Result<()> {
    let (changed, mut generation) = watch::channel(0u64);
    let shared = Arc::new(Shared {
        objects: Mutex::new(Objects::default()),
        changed,
        listed: Mutex::new(0),
    });
    spawn_watch::<Ingress>(&client, &shared, |o| &mut o.ingresses);
    spawn_watch::<IngressClass>(&client, &shared, |o| &mut o.ingress_classes);
    spawn_watch::<Service>(&client, &shared, |o| &mut o.services);
    spawn_watch::<EndpointSlice>(&client, &shared, |o| &mut o.endpoint_slices);
    spawn_watch::<Secret>(&client, &shared, |o| &mut o.secrets);
    for (kind, plural, map) in GATEWAY_API {
        spawn_dynamic(&client, &shared, kind, plural, map);
    }

    loop {
        if generation.changed().await.is_err() {
            return Ok(());
        }
        // Let a burst of events (an initial list, a rollout) land before rebuilding.
        tokio::time::sleep(Duration::from_millis(50)).await;
        generation.borrow_and_update();
        if *shared.listed.lock().unwrap_or_else(|e| e.into_inner()) < KINDS {
            continue;
        }
        let objects = shared
            .objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let addresses = options
            .publish_service
            .as_ref()
            .map(|s| crate::status::addresses(&objects, s))
            .unwrap_or_default();
        let built = crate::build(&objects, &options.controller, &addresses);
        tracing::debug!(ingresses = built.ingresses.len(), "configuration rebuilt");
        config.send_replace(Arc::new(built.config));
        if let Some(service) = &options.publish_service {
            crate::status::ingresses(&client, &objects, &built.ingresses, service).await;
        }
        crate::status::gateway_api(&client, &objects, &built.gateway_statuses).await;
    }
}

type DynamicMap = fn(&mut Objects) -> &mut BTreeMap<Key, serde_json::Value>;

/// Gateway API kinds: watched when their CRDs are installed, never waited for.
const GATEWAY_API: [(&str, &str, DynamicMap); 4] = [
    ("GatewayClass", "gatewayclasses", |o| &mut o.gateway_classes),
    ("Gateway", "gateways", |o| &mut o.gateways),
    ("HTTPRoute", "httproutes", |o| &mut o.http_routes),
    ("ReferenceGrant", "referencegrants", |o| {
        &mut o.reference_grants
    }),
];

fn spawn_dynamic(
    client: &kube::Client,
    shared: &Arc<Shared>,
    kind: &'static str,
    plural: &'static str,
    map: DynamicMap,
) {
    use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
    let gvk = GroupVersionKind::gvk(crate::gateway_api::GROUP, "v1", kind);
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    );
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut listing = BTreeMap::new();
        // Without the CRDs the list fails; the backoff keeps retrying until they appear.
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(e) => e,
                Err(error) => {
                    tracing::debug!(kind, %error, "watch failed; retrying");
                    continue;
                }
            };
            let as_json = |o: &DynamicObject| serde_json::to_value(o).unwrap_or_default();
            let mut objects = shared.objects.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                Event::Init => listing.clear(),
                Event::InitApply(obj) => {
                    listing.insert(key_of(&obj.metadata), as_json(&obj));
                }
                Event::InitDone => *map(&mut objects) = std::mem::take(&mut listing),
                Event::Apply(obj) => {
                    map(&mut objects).insert(key_of(&obj.metadata), as_json(&obj));
                }
                Event::Delete(obj) => {
                    map(&mut objects).remove(&key_of(&obj.metadata));
                }
            }
            drop(objects);
            shared.changed.send_modify(|g| *g += 1);
        }
    });
}

fn spawn_watch<K>(
    client: &kube::Client,
    shared: &Arc<Shared>,
    map: fn(&mut Objects) -> &mut BTreeMap<Key, K>,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(client.clone());
    let shared = shared.clone();
    tokio::spawn(async move {
        let kind = K::kind(&());
        let mut listing = BTreeMap::new();
        let mut listed_once = false;
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(e) => e,
                Err(error) => {
                    tracing::warn!(%kind, %error, "watch failed; retrying");
                    continue;
                }
            };
            let mut objects = shared.objects.lock().unwrap_or_else(|e| e.into_inner());
            match event {
                Event::Init => listing.clear(),
                Event::InitApply(obj) => {
                    listing.insert(key_of(obj.meta()), obj);
                }
                Event::InitDone => {
                    *map(&mut objects) = std::mem::take(&mut listing);
                    if !listed_once {
                        listed_once = true;
                        *shared.listed.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                        tracing::info!(%kind, "listed");
                    }
                }
                Event::Apply(obj) => {
                    map(&mut objects).insert(key_of(obj.meta()), obj);
                }
                Event::Delete(obj) => {
                    map(&mut objects).remove(&key_of(obj.meta()));
                }
            }
            drop(objects);
            shared.changed.send_modify(|g| *g += 1);
        }
    });
}
