//! The service proxy in the agent: Services, EndpointSlices and this Node watched through
//! kube-rs into the proxy engine; a partial sync on change, a full one every resync period;
//! /healthz + /metrics, and the health checks of ETP Local Services.
//!
//! ```text
//! watcher(Services) ─┐
//! watcher(EndpointSlices) ─┼─▶ Engine state (dirty Services) ──(both lists complete)──▶ Engine::sync
//! watcher(Nodes: ours) ─┘                                        (blocking pool: nft / iptables)
//! ```

mod http;
mod metrics;
mod mode;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use ipnet::IpNet;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use podnet_agent_proxy::{Engine, NodeInfo, NodePortAddressConfig};
use podnet_conntrack::Conntrack;
use tracing::Instrument;

pub use http::healthy;
pub use metrics::Metrics;
pub use mode::{ProxyMode, start_backend};
pub use watch::ProxyStore;

use crate::error::{Error, Result};
use crate::events::drain;
use crate::policy::PolicyMetrics;

/// After a failed sync, the next attempt comes this soon.
const RETRY: Duration = Duration::from_secs(1);

/// The proxy's part of the agent's command line.
#[derive(Clone, Debug)]
pub struct ProxySettings {
    pub mode: ProxyMode,
    pub node_ports: NodePortAddressConfig,
    /// /healthz and /livez (kube-proxy: 0.0.0.0:10256, where load balancers probe nodes).
    pub healthz: SocketAddr,
    /// /metrics (kube-proxy: 127.0.0.1:10249, so that only the node itself can read them).
    pub metrics: SocketAddr,
    /// Full resync period (kube-proxy's `--sync-period`).
    pub resync: Duration,
    /// kube-proxy's `--min-sync-period`: syncs come at most this often; changes arriving
    /// sooner wait and go together in the next one.
    pub min_sync: Duration,
}

/// When the next sync may run, if the last one (at `last`) was less than `min` ago.
fn held_until(
    last: Option<tokio::time::Instant>,
    min: Duration,
    now: tokio::time::Instant,
) -> Option<tokio::time::Instant> {
    let at = last? + min;
    (at > now).then_some(at)
}

/// Runs the proxy for node `node` until `shutdown` completes.
pub async fn run(
    settings: ProxySettings,
    client: kube::Client,
    node: String,
    cluster_cidrs: Vec<IpNet>,
    netns: Option<PathBuf>,
    policy: PolicyMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let span = tracing::info_span!("proxy", mode = %settings.mode);
    run_in_span(
        settings,
        client,
        node,
        cluster_cidrs,
        netns,
        policy,
        shutdown,
    )
    .instrument(span)
    .await
}

async fn run_in_span(
    settings: ProxySettings,
    client: kube::Client,
    node: String,
    cluster_cidrs: Vec<IpNet>,
    netns: Option<PathBuf>,
    policy: PolicyMetrics,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let info = NodeInfo {
        name: node.clone(),
        zone: None,
        node_ips: Vec::new(),
        cluster_cidrs,
    };
    let Some(backend) = start_backend(
        settings.mode,
        netns.as_deref(),
        &info,
        settings.node_ports.clone(),
    )?
    else {
        tracing::info!("no service proxy (--proxy-mode none); other modes' rules removed");
        shutdown.await;
        return Ok(());
    };
    let engine = Arc::new(Mutex::new(Engine::new(
        info,
        backend,
        Conntrack::new(netns.as_deref()),
    )));
    let shared: http::Shared = Arc::new(Mutex::new(
        Metrics::new(engine_mode(&engine)).with_policy(policy),
    ));
    shared.lock().expect("metrics").queued();

    let bind = |addr: SocketAddr| async move {
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })
    };
    let (healthz_listener, metrics_listener) =
        (bind(settings.healthz).await?, bind(settings.metrics).await?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    let stopped = move |mut rx: tokio::sync::watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };
    let healthz = tokio::spawn(http::serve_healthz(
        healthz_listener,
        shared.clone(),
        settings.resync * 2,
        stopped(stop_rx.clone()),
    ));
    let metrics = tokio::spawn(http::serve_metrics(
        metrics_listener,
        shared.clone(),
        stopped(stop_rx),
    ));

    let mut services = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .boxed();
    let mut slices = watcher(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .boxed();
    let nodes_cfg = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let mut nodes = watcher(Api::<Node>::all(client), nodes_cfg)
        .default_backoff()
        .boxed();
    let mut store = ProxyStore::new(node);
    let mut health = http::HealthServers::default();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(settings.resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut dirty, mut full) = (false, false);
    let mut retry_at: Option<tokio::time::Instant> = None;
    let mut last_sync: Option<tokio::time::Instant> = None;
    tracing::info!(healthz = %settings.healthz, metrics = %settings.metrics, "service proxy started");
    loop {
        let retry = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        {
            tokio::select! {
                () = &mut shutdown => break,
                Some(e) = services.next() => {
                    let mut eng = engine.lock().expect("engine");
                    dirty |= drain(e, &mut services, |e| store.service_event(eng.state_mut(), e));
                }
                Some(e) = slices.next() => {
                    let mut eng = engine.lock().expect("engine");
                    dirty |= drain(e, &mut slices, |e| store.slice_event(eng.state_mut(), e));
                }
                Some(e) = nodes.next() => {
                    let mut eng = engine.lock().expect("engine");
                    if let Some(new) = store.node_event(eng.node(), e) {
                        tracing::info!(zone = ?new.zone, ips = ?new.node_ips, "node changed");
                        eng.set_node(new);
                        dirty = true;
                    }
                }
                _ = tick.tick() => { dirty = true; full = true; }
                () = retry => dirty = true,
            }
        }
        if !(dirty && store.synced()) {
            continue;
        }
        let now = tokio::time::Instant::now();
        if let Some(at) = held_until(last_sync, settings.min_sync, now) {
            // Too soon after the last sync: wake up then (the retry timer), still dirty.
            retry_at = Some(retry_at.map_or(at, |r| r.min(at)));
            continue;
        }
        last_sync = Some(now);
        shared.lock().expect("metrics").queued();
        let (was_full, eng) = (full, engine.clone());
        dirty = false;
        full = false;
        retry_at = None;
        let result = tokio::task::spawn_blocking(move || {
            let mut eng = eng.lock().expect("engine");
            let r = eng.sync(was_full);
            if r.as_ref()
                .is_ok_and(|r| r.kind == podnet_agent_proxy::SyncKind::Full)
            {
                release_freed_memory();
            }
            (r, eng.health_checks(), eng.state().service_count())
        })
        .await
        .expect("sync task");
        match result {
            (Ok(report), checks, services) => {
                let level_info =
                    report.kind == podnet_agent_proxy::SyncKind::Full || report.changed_ports > 0;
                if level_info {
                    tracing::info!(kind = ?report.kind, ports = report.changed_ports,
                        rules = report.stats.rules, ms = report.duration.as_millis() as u64,
                        conntrack_deleted = report.conntrack_deleted,
                        phases = ?report.stats.phases, "proxy rules synced");
                }
                shared.lock().expect("metrics").synced(&report, services);
                health.update(checks).await;
            }
            (Err(error), _, _) => {
                tracing::warn!(%error, "proxy sync failed, retrying");
                shared.lock().expect("metrics").failed();
                retry_at = Some(tokio::time::Instant::now() + RETRY);
            }
        }
    }
    tracing::info!("service proxy stopping; its rules stay for the next start");
    let _ = stop_tx.send(());
    let _ = healthz.await;
    let _ = metrics.await;
    Ok(())
}

fn engine_mode(engine: &Arc<Mutex<Engine>>) -> &'static str {
    engine.lock().expect("engine").mode()
}

/// Hands the heap a full sync freed back to the system. A full sync builds the table
/// several times over (objects, transaction, netlink batch: hundreds of MiB at 30k
/// Services) and frees it; glibc keeps freed heap pages mapped unless asked, so the agent's
/// RSS would stay at its peak.
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_wait_out_the_min_sync_period() {
        let t0 = tokio::time::Instant::now();
        let min = Duration::from_secs(1);
        assert_eq!(
            held_until(None, min, t0),
            None,
            "the first sync runs at once"
        );
        let soon = t0 + Duration::from_millis(300);
        assert_eq!(held_until(Some(t0), min, soon), Some(t0 + min));
        assert_eq!(held_until(Some(t0), min, t0 + min), None);
        assert_eq!(
            held_until(Some(t0), Duration::ZERO, t0),
            None,
            "0: no limit"
        );
    }
}
