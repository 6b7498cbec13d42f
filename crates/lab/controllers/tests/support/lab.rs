//! The real lab API server on 127.0.0.1:0, every controller against it through kube-rs, and
//! a kubelet stand-in (the next issue's job) that reports bound pods running and ready with
//! an IP from their node's pod CIDR, and confirms terminating pods stopped.

#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use podnet_lab_controllers::{CancellationToken, Config, Role};
use serde_json::json;

/// What the root CA publisher is given to publish (any text: it does not parse it).
pub const ROOT_CA: &str = "-----BEGIN CERTIFICATE-----\nlab\n-----END CERTIFICATE-----\n";

pub struct Lab {
    pub client: Client,
    pub config: Config,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    controllers: tokio::task::JoinHandle<()>,
    kubelet: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

// === impl Lab ===

impl Lab {
    /// A control plane and two workers; `kubelet`: whether bound pods become ready.
    pub async fn start(kubelet: bool) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let state = dir.path().to_path_buf();
        let server_stop = stop.clone();
        let server = tokio::spawn(async move {
            podnet_apiserver::serve(listener, &state, server_stop.cancelled_owned())
                .await
                .unwrap();
        });
        let client =
            Client::try_from(kube::Config::new(format!("http://{addr}").parse().unwrap())).unwrap();
        let mut config = Config::lab("lab", &[Role::ControlPlane, Role::Worker, Role::Worker]);
        config.api_server = addr;
        config.root_ca = Some(ROOT_CA.into());
        let controllers = tokio::spawn({
            let (client, config, stop) = (client.clone(), config.clone(), stop.clone());
            async move {
                podnet_lab_controllers::run_all(client, config, stop)
                    .await
                    .unwrap();
            }
        });
        let kubelet = kubelet.then(|| tokio::spawn(kubelet_stand_in(client.clone(), stop.clone())));
        Lab {
            client,
            config,
            stop,
            server,
            controllers,
            kubelet,
            _dir: dir,
        }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.controllers.await;
        if let Some(k) = self.kubelet {
            let _ = k.await;
        }
        let _ = self.server.await;
    }
}

/// Polls `check` every 50 ms until it returns Some, for at most 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn kubelet_stand_in(client: Client, stop: CancellationToken) {
    let pods: Api<Pod> = Api::all(client.clone());
    let nodes: Api<Node> = Api::all(client.clone());
    let mut next_ip: HashMap<String, u8> = HashMap::new();
    let mut events = watcher(pods, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    loop {
        let pod = tokio::select! {
            _ = stop.cancelled() => return,
            ev = events.next() => match ev {
                Some(Ok(p)) => p,
                Some(Err(_)) => continue,
                None => return,
            },
        };
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap());
        if pod.metadata.deletion_timestamp.is_some() {
            let _ = api
                .delete(&pod.name_any(), &DeleteParams::default().grace_period(0))
                .await;
            continue;
        }
        let has_ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_ref())
            .is_some();
        if has_ip {
            continue;
        }
        let Ok(n) = nodes.get(&node).await else {
            continue;
        };
        let cidr = n.spec.and_then(|s| s.pod_cidr).unwrap_or_default();
        let prefix = cidr
            .rsplit_once('.')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default();
        let host = next_ip.entry(node.clone()).or_insert(1);
        *host += 1;
        let ip = format!("{prefix}.{host}");
        let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "hostIP": "172.18.0.3",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}});
        let _ = api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&status),
            )
            .await;
    }
}
