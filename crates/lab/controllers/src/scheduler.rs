//! The scheduler: binds pods that have no node.
//!
//! - [`pick`]: filters and spreading score (pure); [`host_ports`]: the NodePorts filter.
//! - This file: reflectors over Nodes and Pods; every change (and a periodic tick, for
//!   retries) runs a pass over the unbound pods, oldest first. A pod just bound is *assumed*
//!   on its node until the watch shows the binding, as kube-scheduler's cache does, so that a
//!   burst of pods spreads. Binding goes through `pods/binding` when the server offers it,
//!   else through an update of `spec.nodeName`.
//! - Events as kube-scheduler words them: `Scheduled` ("Successfully assigned NS/POD to
//!   NODE") and `FailedScheduling` ("0/3 nodes are available: …", when the reason changes).

pub mod host_ports;
pub mod pick;

use std::collections::HashMap;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use podnet_k8s_events::{Broadcaster, EventType, Recorder, Reference, Source};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_not_found};
use pick::{Placed, Unschedulable, pick};

/// The scheduler's name in `spec.schedulerName`.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// Runs the scheduler until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let (pods, pod_writer) = reflector::store::<Pod>();
    let node_events = reflector::reflector(
        node_writer,
        watcher(Api::<Node>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map(|_| ());
    let pod_events = reflector::reflector(
        pod_writer,
        watcher(Api::<Pod>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map(|_| ());
    let mut events = futures::stream::select(node_events, pod_events).boxed();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new(SCHEDULER_NAME, None));
    tokio::spawn(broadcaster.run());
    let mut s = Scheduler {
        binder: Binder::discover(client, recorder).await,
        assumed: HashMap::new(),
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
            ev = events.next() => {
                if ev.is_none() {
                    return Err(Error::Stopped { controller: "scheduler", reason: "watch ended".into() });
                }
                // Take every event that is already there, then schedule once.
                while let Some(Some(_)) = events.next().now_or_never() {}
            }
        }
        if is_ready(&nodes) && is_ready(&pods) {
            s.pass(&nodes, &pods).await;
        }
    }
}

struct Scheduler {
    binder: Binder,
    /// Pod uid → node, for bindings the watch has not shown yet.
    assumed: HashMap<String, String>,
}

// === impl Scheduler ===

impl Scheduler {
    async fn pass(&mut self, nodes: &Store<Node>, pods: &Store<Pod>) {
        let nodes: Vec<Node> = nodes.state().iter().map(|n| (**n).clone()).collect();
        let all = pods.state();
        let by_uid: HashMap<String, &Pod> =
            all.iter().filter_map(|p| Some((p.uid()?, &**p))).collect();
        // Forget assumptions the watch has caught up with.
        self.assumed
            .retain(|uid, _| by_uid.get(uid).is_some_and(|p| node_of(p).is_none()));
        let mut placed: Vec<(String, Pod)> = all
            .iter()
            .filter(|p| !is_finished(p))
            .filter_map(|p| Some((node_of(p)?.to_string(), (**p).clone())))
            .collect();
        for (uid, node) in &self.assumed {
            placed.push((node.clone(), (*by_uid[uid]).clone()));
        }
        let mut pending: Vec<&Pod> = all
            .iter()
            .map(|p| &**p)
            .filter(|p| node_of(p).is_none() && p.metadata.deletion_timestamp.is_none())
            .filter(|p| !self.assumed.contains_key(&p.uid().unwrap_or_default()))
            .filter(|p| {
                let name = p.spec.as_ref().and_then(|s| s.scheduler_name.as_deref());
                name.is_none_or(|n| n.is_empty() || n == SCHEDULER_NAME)
            })
            .collect();
        pending.sort_by_key(|p| {
            (
                p.metadata.creation_timestamp.clone().map(|t| t.0),
                p.name_any(),
            )
        });
        for pod in pending {
            let view: Vec<Placed> = placed
                .iter()
                .map(|(n, p)| Placed { node: n, pod: p })
                .collect();
            match pick(pod, &nodes, &view) {
                Ok(node) => match self.binder.bind(pod, &node).await {
                    Ok(()) => {
                        tracing::info!(pod = %pod.name_any(), namespace = pod.namespace().as_deref().unwrap_or(""), %node, "bound");
                        self.binder.recorder.event(
                            &Reference::of(pod),
                            EventType::Normal,
                            "Scheduled",
                            format!(
                                "Successfully assigned {}/{} to {node}",
                                pod.namespace().unwrap_or_default(),
                                pod.name_any()
                            ),
                        );
                        self.assumed
                            .insert(pod.uid().unwrap_or_default(), node.clone());
                        placed.push((node, pod.clone()));
                    }
                    Err(error) => tracing::warn!(pod = %pod.name_any(), %error, "binding failed"),
                },
                Err(reason) => self.binder.mark_unschedulable(pod, &reason).await,
            }
        }
    }
}

fn is_ready<K: kube::Resource + Clone + 'static>(store: &Store<K>) -> bool
where
    K::DynamicType: std::hash::Hash + Eq + Clone,
{
    store
        .wait_until_ready()
        .now_or_never()
        .is_some_and(|r| r.is_ok())
}

fn node_of(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

fn is_finished(p: &Pod) -> bool {
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// How pods get their node.
struct Binder {
    client: Client,
    subresource: bool,
    recorder: Recorder,
}

// === impl Binder ===

impl Binder {
    async fn discover(client: Client, recorder: Recorder) -> Self {
        let subresource = match client.list_core_api_resources("v1").await {
            Ok(list) => list.resources.iter().any(|r| r.name == "pods/binding"),
            Err(error) => {
                tracing::warn!(%error, "core API discovery failed; binding by spec.nodeName");
                false
            }
        };
        Binder {
            client,
            subresource,
            recorder,
        }
    }

    async fn bind(&self, pod: &Pod, node: &str) -> Result<(), Error> {
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let name = pod.name_any();
        let result = if self.subresource {
            let binding = Binding {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    uid: pod.uid(),
                    ..Default::default()
                },
                target: ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Node".into()),
                    name: Some(node.into()),
                    ..Default::default()
                },
            };
            api.create_subresource::<_, serde_json::Value>(
                "binding",
                &name,
                &PostParams::default(),
                &binding,
            )
            .await
            .map(drop)
        } else {
            // The resourceVersion makes this a compare-and-swap: a pod bound meanwhile is a 409.
            let patch = json!({"metadata": {"resourceVersion": pod.resource_version()},
                "spec": {"nodeName": node}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map(drop)
        };
        result.map_err(Error::on("binding pod", name))
    }

    /// Records why the pod waits, as kube-scheduler's PodScheduled=False condition.
    async fn mark_unschedulable(&self, pod: &Pod, reason: &Unschedulable) {
        let already = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.type_ == "PodScheduled" && c.message.as_deref() == Some(reason.0.as_str())
                })
            });
        if already {
            return;
        }
        tracing::info!(pod = %pod.name_any(), reason = %reason.0, "unschedulable");
        self.recorder.event(
            &Reference::of(pod),
            EventType::Warning,
            "FailedScheduling",
            reason.0.clone(),
        );
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
        let patch = json!({"status": {"conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": reason.0,
            "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
        }]}});
        match api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(error) => tracing::debug!(%error, "recording PodScheduled=False"),
        }
    }
}
