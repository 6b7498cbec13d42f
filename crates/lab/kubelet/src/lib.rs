//! The lab's kubelet: runs the pods bound to its node as real processes in their own
//! namespaces, networked through CNI, and reports them through the Kubernetes API (kube-rs),
//! so it works against the lab's API server or any other.
//!
//! | module | does |
//! |---|---|
//! | `sync` | watches the node's pods (fieldSelector `spec.nodeName`), one worker per pod, adoption and cleanup after a restart |
//! | `pod_worker` | a pod's life: sandbox, containers, restarts with back-off, status, graceful deletion |
//! | `sandbox` | the infra process (network, mount, UTS namespaces), the pinned netns, CNI ADD/DEL |
//! | `container` | container processes joining the pod's namespaces; env (Service variables, ConfigMaps, Secrets), argv |
//! | `downward` | the downward API's values, for env and volumes (pure) |
//! | `pod_objects` | the Services, ConfigMaps and Secrets a pod's env and volumes are read from |
//! | `probe` | startup, readiness, liveness: httpGet, tcpSocket, exec |
//! | `volume` | emptyDir, configMap, secret, downwardAPI and projected volumes (the ServiceAccount token) in the pod's mount namespace, kept up to date |
//! | `status` | pod status (phase, conditions, containerStatuses), pure |
//! | [`files`] | the pod's /etc/resolv.conf, /etc/hosts and hostname, pure |
//! | [`logs`] | container logs in the CRI format: the per-container logger, rotation, the reader `/containerLogs` and `podnet lab logs` use |
//! | [`state`] | pod records that survive a kubelet restart; where `lab exec` finds a pod |
//! | `node` | Node registration, status and the heartbeat Lease |
//! | `streaming` | the kubelet API's streaming endpoints on port 10250: `/exec` (WebSocket channel protocol, pty), `/containerLogs` |
//! | `events` | the kubelet's events (Pulled, Created, Started, Killing, Unhealthy, BackOff, Starting, NodeReady, …) through [`podnet_k8s_events`] |
//!
//! [`run`] is the entry point; it must run inside the node's network namespace (every
//! thread of the runtime), since pods without hostNetwork are wired to it by CNI and
//! hostNetwork pods share it. Only processes the kubelet started are ever signalled, by PID
//! and start time. Stopping the kubelet leaves pods running: the next one adopts them.

mod config;
mod container;
mod downward;
mod error;
mod events;
pub mod files;
pub mod logs;
mod node;
mod pod_objects;
mod pod_worker;
mod probe;
mod process;
mod sandbox;
pub mod state;
mod status;
mod streaming;
mod sync;
mod volume;

pub use config::KubeletConfig;
pub use error::{Error, Result};
pub use process::ProcessId;
pub use state::{SandboxInfo, pod_sandbox};

use std::future::Future;
use std::sync::Arc;

use kube::Client;
use podnet_k8s_events::{Broadcaster, Source};
use tokio_util::sync::CancellationToken;

use pod_worker::Shared;
use sandbox::network::Network;

/// Runs the kubelet of `config.node_name` until `shutdown` completes: node heartbeat and
/// the node's pods. Pods keep running after it returns.
pub async fn run(
    client: Client,
    config: KubeletConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    for dir in [&config.state_dir, &config.cni_cache_dir] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    }
    let node_resolv = std::fs::read_to_string(&config.node_resolv_conf).unwrap_or_default();
    tracing::info!(node = %config.node_name, ip = %config.node_ip, state = %config.state_dir.display(), "kubelet starting");
    let (broadcaster, recorder) = Broadcaster::new(
        client.clone(),
        Source::new("kubelet", Some(&config.node_name)),
    );
    tokio::spawn(broadcaster.run());
    events::starting(&recorder, &config.node_name);
    let consoles = container::console::Consoles::default();
    let shared = Arc::new(Shared {
        network: Network::new(&config),
        client: client.clone(),
        recorder: recorder.clone(),
        config: config.clone(),
        node_resolv,
        consoles: consoles.clone(),
    });
    let token = CancellationToken::new();
    serve_streaming(&config, consoles, token.clone()).await;
    let heartbeat = tokio::spawn(node::run(client, config, recorder, token.clone()));
    let pods = tokio::spawn(sync::run(shared, token.clone()));
    shutdown.await;
    token.cancel();
    let _ = heartbeat.await;
    let _ = pods.await;
    Ok(())
}

/// Starts the streaming server on the node's address; without it the kubelet still runs
/// pods (exec and logs through the API then fail), so a taken port is only a warning.
async fn serve_streaming(
    config: &KubeletConfig,
    consoles: container::console::Consoles,
    token: CancellationToken,
) {
    let addr = std::net::SocketAddr::new(config.node_ip, config.streaming_port);
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            let state_dir = config.state_dir.clone();
            tokio::spawn(streaming::serve(listener, state_dir, consoles, token));
        }
        Err(error) => tracing::warn!(%addr, %error, "kubelet streaming server not started"),
    }
}
