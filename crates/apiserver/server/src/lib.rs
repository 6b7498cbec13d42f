//! The lab's Kubernetes-API-subset server: the REST API of the kinds a networking stack
//! needs (Namespace, Node, Pod, Service, ConfigMap, EndpointSlice, Deployment,
//! NetworkPolicy, Ingress, IngressClass, Lease, Event), over the embedded, crash-safe
//! [`podnet_apiserver_store`], spoken well enough for kubectl and kube-rs.
//!
//! - [`resources`]: the served kinds as one table (discovery, routing, validation, printing).
//! - [`http`]: routing; [`crud`]: the verbs; [`watch`]: watch streams; [`negotiate`]: JSON,
//!   YAML or Kubernetes protobuf bodies and replies.
//! - [`services`]: ClusterIP / NodePort allocation in the Service write path (422 at once);
//!   [`namespaces`]: deletion as upstream (Terminating, `finalize`); [`binding`]: `pods/binding`.
//! - [`patch`]: JSON, merge, strategic merge patches and server-side apply.
//! - [`pagination`]: chunked lists (`limit`, `continue`).
//! - [`admission`]: built-in admission on create (the ServiceAccount plugin for pods).
//! - [`validate`]: field-path validation with the real server's wording (422 Invalid).
//! - [`table`]: server-side printing (`kubectl get`'s columns).
//! - [`events`]: core/v1 and events.k8s.io/v1 Events over one storage; their TTL is the
//!   store's per-object expiry, run by `expiry`.
//! - [`discovery`], [`openapi`]: what kubectl and kube-rs ask before anything else.
//! - [`connect`]: `pods/exec`, `attach`, `portforward`, `log`, carried to the pod's kubelet.
//! - [`ephemeral`]: `pods/ephemeralcontainers` (`kubectl debug`).
//! - [`crd`]: CustomResourceDefinitions and the kinds they serve (the [`crd::Registry`]).
//!
//! [`serve`] takes a bound listener, a state directory and a shutdown future, so tests bind
//! 127.0.0.1:0 and use the real thing; [`serve_with`] also takes the cluster's [`Config`].

pub mod admission;
pub mod auth;
pub mod binding;
pub mod config;
pub mod connect;
pub mod crd;
pub mod crud;
pub mod discovery;
pub mod ephemeral;
pub mod error;
pub mod events;
mod expiry;
pub mod http;
pub mod namespaces;
pub mod negotiate;
pub mod openapi;
pub mod pagination;
pub mod patch;
pub mod rbac;
pub mod resources;
pub mod services;
pub mod strategy;
pub mod table;
pub mod tls;
pub mod validate;
pub mod watch;

pub use config::Config;
pub use error::ApiError;
pub use podnet_apiserver_store as store;

use std::future::{Future, IntoFuture as _};

use axum::serve::ListenerExt as _;
use futures::FutureExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podnet_apiserver_store::{Options, Store, StoreError};
use serde_json::json;

/// Shared by every request.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    /// ClusterIPs and NodePorts; held across a Service's store write.
    pub services: Arc<Mutex<services::Allocator>>,
    /// Flips to true when the server shuts down, ending watch streams.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub bookmark_interval: Duration,
    /// The kinds CustomResourceDefinitions add, beside the built-in table.
    pub registry: Arc<crd::Registry>,
    /// Token signing and the authenticators' settings.
    pub auth: Arc<auth::Auth>,
    /// Whether pods go through the ServiceAccount admission plugin.
    pub service_account_admission: bool,
    /// How kubelets are reached (pods/exec, attach, portforward, log).
    pub kubelet_dialer: connect::Dialer,
}

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    SigningKey(#[from] auth::KeyError),
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    #[error("serving HTTP: {0}")]
    Io(#[from] std::io::Error),
}

/// The namespaces every cluster starts with.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Serves the API on `listener` from the store in `state_dir` until `shutdown` completes,
/// with the default [`Config`] (kind's: 10.96.0.0/16, node ports 30000-32767).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state_dir: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(listener, state_dir, &Config::default(), shutdown).await
}

/// [`serve`] for a cluster configured by `config`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state_dir: &Path,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_on(vec![listener.into()], state_dir, config, shutdown).await
}

/// [`serve_with`] on several listeners at once, one store behind them all: the lab's API
/// server answers on the host's loopback and, inside the lab's fabric, where the nodes
/// reach it (over TLS: see [`tls::Listener`]).
pub async fn serve_on(
    listeners: Vec<tls::Listener>,
    state_dir: &Path,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    config.check()?;
    let options = Options {
        held: namespaces::held,
        expire_after: vec![(
            resources::ResourceType::find("", "v1", "events")
                .expect("events are served")
                .store_resource(),
            config.event_ttl,
        )],
        ..Options::default()
    };
    let store = Store::open(state_dir, options)?;
    bootstrap(&store)?;
    rbac::bootstrap::ensure(&store)?;
    let services = services::Allocator::rebuild(config, &store);
    let signing_key = match &config.service_account_key_file {
        Some(path) => auth::SigningKey::load_or_create(path)?,
        None => auth::SigningKey::generate(),
    };
    let auth = auth::Auth {
        signing_key,
        static_tokens: config.static_tokens.clone(),
        anonymous_is_admin: config.anonymous_is_admin,
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let app = App {
        store,
        services: Arc::new(Mutex::new(services)),
        shutdown: stop_rx.clone(),
        bookmark_interval: Duration::from_secs(10),
        registry: Arc::default(),
        auth: Arc::new(auth),
        service_account_admission: config.service_account_admission,
        kubelet_dialer: config.kubelet_dialer.clone(),
    };
    crd::reconcile(&app);
    tokio::spawn(expiry::run(app.store.clone(), stop_rx.clone()));
    let router = axum::Router::new().fallback(http::handle).with_state(app);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let servers = listeners.into_iter().map(|listener| {
        let tls = matches!(listener, tls::Listener::Tls(_));
        tracing::info!(addr = ?listener.local_addr().ok(), tls, "API server listening");
        let mut stop = stop_rx.clone();
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        let router = router.clone();
        match listener {
            // Without TCP_NODELAY a small watch event written while the previous one is
            // unacknowledged waits for the client's delayed ACK (~40 ms); Go's servers, and so
            // kube-apiserver, disable Nagle on every connection.
            tls::Listener::Plain(l) => axum::serve(l.tap_io(tls::no_delay), router)
                .with_graceful_shutdown(stopped)
                .into_future()
                .boxed(),
            tls::Listener::Tls(l) => axum::serve(
                l,
                router.into_make_service_with_connect_info::<tls::ClientCert>(),
            )
            .with_graceful_shutdown(stopped)
            .into_future()
            .boxed(),
        }
    });
    futures::future::try_join_all(servers).await?;
    Ok(())
}

/// Creates the system namespaces that are missing.
fn bootstrap(store: &Store) -> Result<(), StoreError> {
    let rt = resources::ResourceType::find("", "v1", "namespaces").expect("namespaces are served");
    for name in SYSTEM_NAMESPACES {
        if store.get(&rt.store_resource().key("", name)).is_ok() {
            continue;
        }
        let mut ns = json!({"metadata": {"name": name}});
        strategy::prepare_create(rt, &mut ns);
        match store.create(&rt.store_resource(), "", ns) {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
