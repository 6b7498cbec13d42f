//! The server assembled: listeners bound from the Corefile, the answer path's shared state,
//! the cluster catalog it publishes from, reloads of the Corefile, and an orderly stop.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use podnet_dns_records::Catalog;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{Notify, mpsc, watch};

use crate::cache::Cache;
use crate::corefile::Corefile;
use crate::engine::{Block, Engine, State};
use crate::error::{Error, Result};
use crate::forward::Forwarder;
use crate::http::Endpoint;
use crate::metrics::Metrics;
use crate::published::Published;

/// Bound sockets: DNS per configured port, and the HTTP endpoints.
pub struct Listeners {
    pub dns: Vec<DnsListener>,
    pub http: Vec<(std::net::TcpListener, Vec<Endpoint>)>,
}

pub struct DnsListener {
    /// The port as configured (the server blocks it serves are the ones on this port).
    pub port: u16,
    /// One socket per UDP worker thread, all on one address (SO_REUSEPORT).
    pub udp: Vec<UdpSocket>,
    pub tcp: std::net::TcpListener,
}

/// What the answer path, the HTTP endpoints and the watchers share.
pub struct Shared {
    pub engine: Engine,
    pub state: Published<State>,
    catalog: Mutex<Catalog>,
    publish: Notify,
    pending: Mutex<BTreeSet<String>>,
    corefile: Mutex<Corefile>,
}

/// The name server: build with [`Dns::new`], feed objects through [`Dns::shared`], then
/// [`Dns::run`].
pub struct Dns {
    shared: Arc<Shared>,
}

// === impl Listeners ===

impl Listeners {
    /// Binds every address the Corefile names; `udp_workers` sockets per DNS address.
    pub fn bind(cf: &Corefile, udp_workers: usize) -> Result<Self> {
        let mut dns = Vec::new();
        let mut seen = BTreeSet::new();
        for block in &cf.servers {
            for addr in block.dns_addrs() {
                if !seen.insert(addr) {
                    continue;
                }
                dns.push(DnsListener::bind(addr, block.port, udp_workers.max(1))?);
            }
        }
        let mut http: Vec<(SocketAddr, Vec<Endpoint>)> = Vec::new();
        for block in &cf.servers {
            let wanted = [
                (block.health.map(|h| h.addr), Endpoint::Health),
                (block.ready, Endpoint::Ready),
                (block.prometheus, Endpoint::Metrics),
            ];
            for (addr, ep) in wanted {
                let Some(addr) = addr else { continue };
                match http.iter_mut().find(|(a, _)| *a == addr) {
                    Some((_, eps)) if !eps.contains(&ep) => eps.push(ep),
                    Some(_) => {}
                    None => http.push((addr, vec![ep])),
                }
            }
        }
        let http = http
            .into_iter()
            .map(|(addr, eps)| {
                let l = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind {
                    proto: "tcp",
                    addr,
                    source,
                })?;
                Ok((l, eps))
            })
            .collect::<Result<_>>()?;
        Ok(Listeners { dns, http })
    }
}

impl DnsListener {
    pub fn bind(addr: SocketAddr, port: u16, workers: usize) -> Result<Self> {
        let bind_err = |proto, source| Error::Bind {
            proto,
            addr,
            source,
        };
        let mut udp = Vec::with_capacity(workers);
        let mut at = addr;
        for _ in 0..workers {
            let s = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))
                .map_err(|e| bind_err("udp", e))?;
            s.set_reuse_port(true).map_err(|e| bind_err("udp", e))?;
            // Room for bursts: a full receive queue drops queries before we see them.
            let _ = s.set_recv_buffer_size(4 << 20);
            let _ = s.set_send_buffer_size(4 << 20);
            s.bind(&at.into()).map_err(|e| bind_err("udp", e))?;
            let sock: UdpSocket = s.into();
            // Port 0 picks a port once; the other workers join that one.
            at = sock.local_addr().map_err(|e| bind_err("udp", e))?;
            udp.push(sock);
        }
        let tcp = std::net::TcpListener::bind(at).map_err(|e| bind_err("tcp", e))?;
        Ok(DnsListener { port, udp, tcp })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.tcp
            .local_addr()
            .expect("bound listener has an address")
    }
}

// === impl Shared ===

impl Shared {
    /// Applies changes to the cluster objects and publishes the result at once.
    pub fn update_catalog(&self, f: impl FnOnce(&mut Catalog)) {
        let mut c = self.catalog.lock().unwrap();
        f(&mut c);
        self.publish_locked(&mut c);
    }

    /// Applies changes and asks the publisher to publish shortly (watch events come in
    /// bursts; one publish covers the burst).
    pub fn edit_catalog(&self, f: impl FnOnce(&mut Catalog)) {
        f(&mut self.catalog.lock().unwrap());
        self.publish.notify_one();
    }

    fn publish_locked(&self, c: &mut Catalog) {
        if !c.is_dirty() {
            return;
        }
        let snap = c.publish();
        self.state.update(|s| State {
            snapshot: s.snapshot.as_ref().map(|_| snap.clone()),
            blocks: s.blocks.clone(),
        });
    }

    /// Marks a source as not ready yet (`/ready` answers 503 naming it).
    pub fn set_pending(&self, what: &str, pending: bool) {
        let mut p = self.pending.lock().unwrap();
        if pending {
            p.insert(what.to_owned());
        } else {
            p.remove(what);
        }
    }

    pub fn not_ready(&self) -> Vec<String> {
        self.pending.lock().unwrap().iter().cloned().collect()
    }

    pub fn render_metrics(&self) -> String {
        let state = self.state.load();
        let mut entries = (0, 0);
        for b in state.blocks.iter() {
            if let Some(c) = &b.cache {
                let (s, d) = c.len();
                entries = (entries.0 + s, entries.1 + d);
            }
        }
        self.engine.metrics.render(entries)
    }

    pub fn corefile(&self) -> Corefile {
        self.corefile.lock().unwrap().clone()
    }

    /// Applies a new Corefile's text without a restart. An invalid one is refused (the
    /// running configuration stays) and counted in `coredns_reload_failed_total`.
    pub fn reload(&self, text: &str) -> Result<()> {
        let default_port = self
            .corefile
            .lock()
            .unwrap()
            .servers
            .first()
            .map_or(53, |s| s.port);
        let cf = match Corefile::parse(text, default_port) {
            Ok(cf) => cf,
            Err(e) => {
                self.engine
                    .metrics
                    .reload_failed
                    .fetch_add(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        let old = self.corefile.lock().unwrap().clone();
        if old == cf {
            return Ok(());
        }
        for w in &cf.warnings {
            tracing::warn!(warning = %w, "Corefile");
        }
        if old.listeners() != cf.listeners() {
            tracing::warn!(
                old = ?old.listeners(),
                new = ?cf.listeners(),
                "listening addresses changed; they apply at the next start"
            );
        }
        self.install(cf);
        tracing::info!("Corefile reloaded");
        Ok(())
    }

    fn install(&self, cf: Corefile) {
        let blocks = build_blocks(&cf);
        let zone = cf.kubernetes().map(|k| k.zone.clone());
        let mut c = self.catalog.lock().unwrap();
        if let Some(z) = &zone {
            c.set_config(z.clone());
        }
        let snap = c.publish();
        self.state.store(Arc::new(State {
            snapshot: zone.map(|_| snap),
            blocks,
        }));
        drop(c);
        if let Some(b) = cf.servers.first() {
            let zone = b
                .zones
                .first()
                .map(|z| z.to_string())
                .unwrap_or_else(|| ".".into());
            self.engine
                .metrics
                .set_server(format!("dns://:{}", b.port), zone);
        }
        *self.corefile.lock().unwrap() = cf;
    }
}

fn build_blocks(cf: &Corefile) -> Arc<[Arc<Block>]> {
    cf.servers
        .iter()
        .map(|s| {
            Arc::new(Block {
                port: s.port,
                zones: s.zones.clone(),
                kubernetes: s.kubernetes.is_some(),
                forward: s.forward.clone().map(Forwarder::new),
                cache: s.cache.clone().map(Cache::new),
                log: s.log,
                errors: s.errors,
                loadbalance: s.loadbalance,
            })
        })
        .collect()
}

// === impl Dns ===

impl Dns {
    pub fn new(cf: Corefile) -> Self {
        for w in &cf.warnings {
            tracing::warn!(warning = %w, "Corefile");
        }
        let zone = cf.kubernetes().map(|k| k.zone.clone()).unwrap_or_default();
        let shared = Arc::new(Shared {
            engine: Engine::new(Arc::new(Metrics::default())),
            state: Published::new(State {
                snapshot: None,
                blocks: Arc::from(Vec::new()),
            }),
            catalog: Mutex::new(Catalog::new(zone)),
            publish: Notify::new(),
            pending: Mutex::new(BTreeSet::new()),
            corefile: Mutex::new(cf.clone()),
        });
        shared.install(cf);
        Dns { shared }
    }

    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Serves until `shutdown` completes: UDP on worker threads, TCP and HTTP as tasks,
    /// Corefile texts from `reloads` applied as they come. With `health { lameduck D }`
    /// the listeners stay up D after the signal (so load balancers drain first).
    pub async fn run(
        self,
        listeners: Listeners,
        mut reloads: mpsc::Receiver<String>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let shared = self.shared;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stop_flag = Arc::new(AtomicBool::new(false));
        let rt = tokio::runtime::Handle::current();
        let mut threads = Vec::new();
        let mut tasks = Vec::new();
        for l in listeners.dns {
            let addr = l.local_addr();
            tracing::info!(%addr, workers = l.udp.len(), "serving DNS over UDP and TCP");
            for (i, sock) in l.udp.into_iter().enumerate() {
                let (shared, rt, stop) = (shared.clone(), rt.clone(), stop_flag.clone());
                let port = l.port;
                let t = std::thread::Builder::new()
                    .name(format!("dns-udp-{i}"))
                    .spawn(move || crate::udp::serve(sock, port, shared, rt, stop))
                    .map_err(Error::Runtime)?;
                threads.push(t);
            }
            l.tcp.set_nonblocking(true).map_err(Error::Runtime)?;
            let tcp = tokio::net::TcpListener::from_std(l.tcp).map_err(Error::Runtime)?;
            tasks.push(tokio::spawn(crate::tcp::serve(
                tcp,
                l.port,
                shared.clone(),
                stop_rx.clone(),
            )));
        }
        for (l, eps) in listeners.http {
            l.set_nonblocking(true).map_err(Error::Runtime)?;
            let addr = l.local_addr().map_err(Error::Runtime)?;
            tracing::info!(%addr, endpoints = ?eps, "serving HTTP");
            let l = tokio::net::TcpListener::from_std(l).map_err(Error::Runtime)?;
            tasks.push(tokio::spawn(crate::http::serve(
                l,
                eps,
                shared.clone(),
                stop_rx.clone(),
            )));
        }
        let publisher = {
            let shared = shared.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shared.publish.notified() => {}
                        _ = stop.changed() => return,
                    }
                    // Let the rest of a burst of watch events land first.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let mut c = shared.catalog.lock().unwrap();
                    shared.publish_locked(&mut c);
                }
            })
        };
        let reloader = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Some(text) = reloads.recv().await {
                    if let Err(error) = shared.reload(&text) {
                        tracing::error!(%error, "Corefile change refused; the running configuration stays");
                    }
                }
            })
        };
        shutdown.await;
        let lameduck = shared
            .corefile()
            .servers
            .iter()
            .filter_map(|s| s.health.map(|h| h.lameduck))
            .max()
            .unwrap_or_default();
        if !lameduck.is_zero() {
            tracing::info!(?lameduck, "going lame duck");
            tokio::time::sleep(lameduck).await;
        }
        let _ = stop_tx.send(true);
        stop_flag.store(true, Ordering::Relaxed);
        reloader.abort();
        let _ = publisher.await;
        for t in tasks {
            let _ = t.await;
        }
        for t in threads {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        Ok(())
    }
}
