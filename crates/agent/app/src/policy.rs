//! NetworkPolicy in the agent: NetworkPolicies, ClusterNetworkPolicies (policy.networking.k8s.io
//! v1alpha2, as dynamic objects of the CRD's kind), Pods and Namespaces watched through kube-rs
//! into the policy [`Cluster`](podnet_agent_policy::Cluster); once all three lists are
//! complete, this node's `table inet podnet-policy` is rendered, diffed against what the last
//! sync applied and the difference applied, on every change; every resync period the diff is
//! against the kernel's table read back (repairing changes made behind the agent's back).
//!
//! ```text
//! watcher(NetworkPolicies) ─┐
//! watcher(ClusterNetworkPolicies) ─┤
//! watcher(Pods), (Nodes)    ─┼─▶ PolicyStore (Cluster) ──(all lists complete)──▶ Enforcer::sync
//! watcher(Namespaces)       ─┘                                 (blocking pool: nft)
//! ```

mod store;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::{WatchStreamExt, watcher};
use podnet_agent_policy::{Counters, Enforcer};
use podnet_nft::Nft;
use tracing::Instrument;

pub use store::PolicyStore;

use crate::error::Result;
use crate::events::drain;

/// After a failed sync, the next attempt comes this soon.
const RETRY: Duration = Duration::from_secs(1);
/// How often the table's counters are read for /metrics.
const COUNTERS_EVERY: Duration = Duration::from_secs(10);

/// The policy table's counters as Prometheus text, refreshed by the policy loop and shown
/// on the agent's /metrics.
#[derive(Clone, Debug, Default)]
pub struct PolicyMetrics(Arc<Mutex<String>>);

impl PolicyMetrics {
    pub fn text(&self) -> String {
        self.0.lock().expect("policy metrics").clone()
    }

    fn set(&self, text: String) {
        *self.0.lock().expect("policy metrics") = text;
    }
}

/// Enforces NetworkPolicy for the pods of `node` until `shutdown` completes.
pub async fn run(
    client: kube::Client,
    node: String,
    netns: Option<PathBuf>,
    resync: Duration,
    metrics: PolicyMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let span = tracing::info_span!("policy");
    run_in_span(client, node, netns, resync, metrics, shutdown)
        .instrument(span)
        .await
}

async fn run_in_span(
    client: kube::Client,
    node: String,
    netns: Option<PathBuf>,
    resync: Duration,
    metrics: PolicyMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let enforcer = Arc::new(Mutex::new(Enforcer::new(Nft::new(netns.as_deref()), &node)));
    let cfg = watcher::Config::default;
    let mut policies = watcher(Api::<NetworkPolicy>::all(client.clone()), cfg())
        .default_backoff()
        .boxed();
    let cnp = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(
            "policy.networking.k8s.io",
            "v1alpha2",
            "ClusterNetworkPolicy",
        ),
        "clusternetworkpolicies",
    );
    let mut cluster_policies = watcher(Api::<DynamicObject>::all_with(client.clone(), &cnp), cfg())
        .default_backoff()
        .boxed();
    let mut pods = watcher(Api::<Pod>::all(client.clone()), cfg())
        .default_backoff()
        .boxed();
    let mut nodes = watcher(Api::<Node>::all(client.clone()), cfg())
        .default_backoff()
        .boxed();
    let mut namespaces = watcher(Api::<Namespace>::all(client), cfg())
        .default_backoff()
        .boxed();
    let mut store = PolicyStore::default();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut counters = tokio::time::interval(COUNTERS_EVERY);
    counters.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut dirty = false;
    // The next sync reads the kernel back (the periodic resync).
    let mut full = false;
    let mut retry_at: Option<tokio::time::Instant> = None;
    tracing::info!("network policy started");
    loop {
        let retry = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut shutdown => break,
            Some(e) = policies.next() => dirty |= drain(e, &mut policies, |e| store.policy_event(e)),
            Some(e) = cluster_policies.next() => dirty |= drain(e, &mut cluster_policies, |e| store.cluster_policy_event(e)),
            Some(e) = pods.next() => dirty |= drain(e, &mut pods, |e| store.pod_event(e)),
            Some(e) = nodes.next() => dirty |= drain(e, &mut nodes, |e| store.node_event(e)),
            Some(e) = namespaces.next() => dirty |= drain(e, &mut namespaces, |e| store.namespace_event(e)),
            _ = tick.tick() => (dirty, full) = (true, true),
            () = retry => dirty = true,
            _ = counters.tick() => {
                read_counters(&enforcer, &metrics).await;
                continue;
            }
        }
        if !(dirty && store.synced()) {
            continue;
        }
        let resync = std::mem::take(&mut full);
        dirty = false;
        retry_at = None;
        let (cluster, enforcer) = (store.cluster.clone(), enforcer.clone());
        let result = tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut enforcer = enforcer.lock().expect("enforcer");
            let r = if resync {
                enforcer.resync(&cluster)
            } else {
                enforcer.sync(&cluster)
            };
            (r, started.elapsed())
        })
        .await
        .expect("policy sync task");
        match result {
            (Ok(report), took) if report.ops > 0 => tracing::info!(
                ops = report.ops,
                rules = report.rules,
                elements = report.elements,
                read_back = report.read_back,
                ms = took.as_millis() as u64,
                "policy rules synced"
            ),
            (Ok(report), _) => tracing::debug!(rules = report.rules, "policy in sync"),
            (Err(error), _) => {
                tracing::warn!(%error, "policy sync failed, retrying");
                retry_at = Some(tokio::time::Instant::now() + RETRY);
            }
        }
    }
    tracing::info!("network policy stopping; its rules stay for the next start");
    Ok(())
}

/// Refreshes `metrics` from the kernel's counters (off the runtime: it runs `nft`).
async fn read_counters(enforcer: &Arc<Mutex<Enforcer<Nft>>>, metrics: &PolicyMetrics) {
    let enforcer = enforcer.clone();
    let read = tokio::task::spawn_blocking(move || {
        Counters::read(enforcer.lock().expect("enforcer").executor())
    })
    .await
    .expect("policy counters task");
    match read {
        Ok(c) => metrics.set(c.render()),
        Err(error) => tracing::debug!(%error, "reading the policy counters"),
    }
}
