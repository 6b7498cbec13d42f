//! The agent's loop: watcher events into the store, reconciles on change and on a timer;
//! the service proxy and NetworkPolicy beside it.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use podnet_agent_routing::{Config, Kernel, Reconciler};
use tracing::Instrument;

use crate::bgp::{self, BgpSettings};
use crate::error::Result;
use crate::events::drain;
use crate::policy;
use crate::proxy::{self, ProxySettings};
use crate::store::NodeStore;

/// After a failed reconcile, the next attempt comes this soon (not a whole resync period).
const RETRY: Duration = Duration::from_secs(2);

/// What the agent is told on its command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub routing: Config,
    /// Full reconcile period: repairs what was changed behind the agent's back.
    pub resync: Duration,
    /// The namespace to program; `None`: the agent's own (how it runs, in the lab and on a
    /// real node). Tests point it elsewhere.
    pub netns: Option<PathBuf>,
    /// The service proxy (kube-proxy's job).
    pub proxy: ProxySettings,
    /// L2 announcement of LoadBalancer addresses (None: off).
    pub announce: Option<podnet_agent_announce::Settings>,
    /// The BGP speaker, when the node peers with a router.
    pub bgp: Option<BgpSettings>,
}

/// The node agent: constructed with its client, started with [`Agent::run`].
pub struct Agent {
    settings: Settings,
    client: kube::Client,
}

// === impl Agent ===

impl Agent {
    pub fn new(settings: Settings, client: kube::Client) -> Self {
        Self { settings, client }
    }

    /// Runs until `shutdown` completes. The kernel state is left in place on the way out
    /// (traffic keeps flowing while the agent restarts; the next start adopts it).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let routing = &self.settings.routing;
        let span = tracing::info_span!("agent", node = %routing.node, mode = %routing.mode);
        self.run_in_span(shutdown).instrument(span).await
    }

    async fn run_in_span(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        // The loops stop on the same signal; a failure of one (the proxy refusing its mode
        // at start) stops the agent.
        let shutdown = shutdown.shared();
        // NetworkPolicy's counters are served on the proxy's /metrics.
        let policy_metrics = policy::PolicyMetrics::default();
        let proxy = proxy::run(
            self.settings.proxy.clone(),
            self.client.clone(),
            self.settings.routing.node.clone(),
            vec![self.settings.routing.cluster_cidr.into()],
            self.settings.netns.clone(),
            policy_metrics.clone(),
            shutdown.clone(),
        );
        let policy = policy::run(
            self.client.clone(),
            self.settings.routing.node.clone(),
            self.settings.netns.clone(),
            self.settings.resync,
            policy_metrics,
            shutdown.clone(),
        );
        let announce = announce(
            self.settings.announce.clone(),
            self.client.clone(),
            shutdown.clone(),
        );
        let bgp = {
            let (settings, client) = (self.settings.bgp.clone(), self.client.clone());
            let (node, shutdown) = (self.settings.routing.node.clone(), shutdown.clone());
            async move {
                match settings {
                    Some(settings) => bgp::run(settings, client, node, shutdown).await,
                    None => Ok(()),
                }
            }
        };
        tokio::try_join!(self.routing(shutdown), proxy, policy, announce, bgp).map(drop)
    }

    async fn routing(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let Settings {
            routing,
            resync,
            netns,
            proxy: _,
            announce: _,
            bgp: _,
        } = self.settings;
        let kernel = Kernel::open(netns.as_deref())?;
        let mut reconciler = Reconciler::new(routing, kernel);
        let api: Api<Node> = Api::all(self.client);
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut store = NodeStore::default();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut tick = tokio::time::interval(resync);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dirty = false;
        let mut retry_at: Option<tokio::time::Instant> = None;
        tracing::info!(resync_secs = resync.as_secs(), "agent started");
        loop {
            let retry = async {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutting down");
                    return Ok(());
                }
                event = events.next() => {
                    let Some(event) = event else { return Ok(()) };
                    dirty |= drain(event, &mut events, |event| apply(&mut store, event));
                }
                _ = tick.tick() => dirty = true,
                () = retry => dirty = true,
            }
            if !(dirty && store.synced()) {
                continue;
            }
            dirty = false;
            retry_at = None;
            let span = tracing::info_span!("reconcile");
            match reconciler.reconcile(&store.nodes()).instrument(span).await {
                Ok(out) if out.changes > 0 => {
                    tracing::info!(
                        changes = out.changes,
                        routes = out.desired.routes.len(),
                        "reconciled"
                    )
                }
                Ok(out) => tracing::debug!(routes = out.desired.routes.len(), "in sync"),
                Err(error) => {
                    tracing::warn!(%error, "reconcile failed, retrying");
                    retry_at = Some(tokio::time::Instant::now() + RETRY);
                }
            }
        }
    }
}

/// The L2 announcer, when asked for.
async fn announce(
    settings: Option<podnet_agent_announce::Settings>,
    client: kube::Client,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    match settings {
        Some(settings) => Ok(podnet_agent_announce::run(settings, client, shutdown).await?),
        None => Ok(()),
    }
}

fn apply(store: &mut NodeStore, event: Result<watcher::Event<Node>, watcher::Error>) -> bool {
    match event {
        Ok(event) => store.apply(event),
        Err(error) => {
            // The backoff retries; the store keeps the last complete set meanwhile.
            tracing::warn!(%error, "watching Nodes");
            false
        }
    }
}
