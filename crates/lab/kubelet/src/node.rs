//! The node side of the kubelet: registers the Node if it is missing, posts its status
//! (Ready condition, addresses, capacity, nodeInfo) and renews its Lease in kube-node-lease,
//! every `heartbeat`.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio_util::sync::CancellationToken;

use podnet_k8s_events::Recorder;

use crate::config::KubeletConfig;
use crate::error::{Error, Result, is_conflict, is_not_found};
use crate::events;
use crate::pod_worker::now;

pub(crate) const LEASE_NAMESPACE: &str = "kube-node-lease";
const LEASE_DURATION_SECONDS: i32 = 40;
const KUBELET_VERSION: &str = "v1.37.0-podnet";

/// Heartbeats until `shutdown`. Errors are logged and retried at the next beat.
pub(crate) async fn run(
    client: Client,
    config: KubeletConfig,
    recorder: Recorder,
    shutdown: CancellationToken,
) {
    // What this kubelet last posted: each condition that changes from it is an event.
    let mut posted: Option<NodeStatus> = None;
    loop {
        match beat(&client, &config).await {
            Ok(status) => {
                for reason in condition_changes(posted.as_ref(), &status) {
                    events::node_status(&recorder, &config.node_name, reason);
                }
                posted = Some(status);
            }
            Err(error) => tracing::warn!(node = %config.node_name, %error, "node heartbeat"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.heartbeat) => {}
        }
    }
}

/// One heartbeat: registration if needed, status, lease. Returns the status posted.
pub(crate) async fn beat(client: &Client, config: &KubeletConfig) -> Result<NodeStatus> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = match nodes.get_opt(&config.node_name).await {
        Ok(Some(node)) => node,
        Ok(None) => register(&nodes, config).await?,
        Err(e) => return Err(Error::api(format!("get node {}", config.node_name), e)),
    };
    let status = node_status(config, node.status.as_ref());
    nodes
        .patch_status(
            &config.node_name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": status })),
        )
        .await
        .map_err(|e| Error::api(format!("update status of node {}", config.node_name), e))?;
    renew_lease(client, config, node.metadata.uid.as_deref()).await?;
    Ok(status)
}

/// The event reasons of conditions that differ from what was posted before (all of them
/// after a start), as the kubelet's setters record them: `NodeHasSufficientMemory`,
/// `NodeHasNoDiskPressure`, `NodeHasSufficientPID`, `NodeReady` / `NodeNotReady`.
fn condition_changes(before: Option<&NodeStatus>, now: &NodeStatus) -> Vec<&'static str> {
    let status_of = |s: Option<&NodeStatus>, type_: &str| {
        s.and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
            .map(|c| c.status.clone())
    };
    [
        (
            "MemoryPressure",
            "NodeHasSufficientMemory",
            "NodeHasInsufficientMemory",
        ),
        (
            "DiskPressure",
            "NodeHasNoDiskPressure",
            "NodeHasDiskPressure",
        ),
        (
            "PIDPressure",
            "NodeHasSufficientPID",
            "NodeHasInsufficientPID",
        ),
        ("Ready", "NodeNotReady", "NodeReady"),
    ]
    .into_iter()
    .filter_map(|(type_, when_false, when_true)| {
        let current = status_of(Some(now), type_)?;
        if status_of(before, type_).as_ref() == Some(&current) {
            return None;
        }
        Some(if current == "True" {
            when_true
        } else {
            when_false
        })
    })
    .collect()
}

async fn register(nodes: &Api<Node>, config: &KubeletConfig) -> Result<Node> {
    let labels: BTreeMap<String, String> = [
        ("kubernetes.io/hostname", config.node_name.as_str()),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", std::env::consts::ARCH),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let node = Node {
        metadata: ObjectMeta {
            name: Some(config.node_name.clone()),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    };
    match nodes.create(&PostParams::default(), &node).await {
        Ok(node) => {
            tracing::info!(node = %config.node_name, "registered node");
            Ok(node)
        }
        // Registered meanwhile (by the lab's node controller).
        Err(e) if is_conflict(&e) => nodes
            .get(&config.node_name)
            .await
            .map_err(|e| Error::api(format!("get node {}", config.node_name), e)),
        Err(e) => Err(Error::api(format!("register node {}", config.node_name), e)),
    }
}

/// The node's status: Ready (and the pressure conditions False), addresses, capacity.
fn node_status(config: &KubeletConfig, old: Option<&NodeStatus>) -> NodeStatus {
    let now = now();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| {
        let previous = old
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_));
        let since = match previous {
            Some(p) if p.status == status => p.last_transition_time.clone(),
            _ => Some(now.clone()),
        };
        NodeCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            last_heartbeat_time: Some(now.clone()),
            last_transition_time: since,
        }
    };
    let capacity = capacity();
    NodeStatus {
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.node_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: config.node_name.clone(),
            },
        ]),
        // Where the API server reaches this kubelet (exec, attach, port-forward, logs).
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(config.streaming_port),
            }),
        }),
        allocatable: Some(capacity.clone()),
        capacity: Some(capacity),
        node_info: Some(NodeSystemInfo {
            architecture: std::env::consts::ARCH.into(),
            operating_system: "linux".into(),
            kubelet_version: KUBELET_VERSION.into(),
            kube_proxy_version: String::new(),
            container_runtime_version: "podnet://lab".into(),
            os_image: "podnet lab".into(),
            kernel_version: nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..Default::default()
        }),
        ..old.cloned().unwrap_or_default()
    }
}

async fn renew_lease(
    client: &Client,
    config: &KubeletConfig,
    node_uid: Option<&str>,
) -> Result<()> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let name = &config.node_name;
    let spec = LeaseSpec {
        holder_identity: Some(name.clone()),
        lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
        renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
        ..Default::default()
    };
    let owner = node_uid.map(|uid| OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: name.clone(),
        uid: uid.to_owned(),
        ..Default::default()
    });
    let what = || format!("lease {LEASE_NAMESPACE}/{name}");
    match leases
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": spec })),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(LEASE_NAMESPACE.into()),
                    owner_references: owner.map(|o| vec![o]),
                    ..Default::default()
                },
                spec: Some(spec),
            };
            match leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(()),
                Err(e) if is_conflict(&e) => Ok(()),
                Err(e) => Err(Error::api(what(), e)),
            }
        }
        Err(e) => Err(Error::api(what(), e)),
    }
}

/// What the node offers pods (its capacity, all allocatable): the values of the limits a
/// container does not set, for the downward API.
pub(crate) fn capacity() -> BTreeMap<String, Quantity> {
    [
        (
            "cpu",
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string(),
        ),
        ("memory", "8Gi".to_owned()),
        ("pods", "110".to_owned()),
        ("ephemeral-storage", "100Gi".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Quantity(v)))
    .collect()
}
