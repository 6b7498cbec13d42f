//! The announcer's loop: Services and EndpointSlices watched into [`wanted`], one Lease
//! candidate per wanted address, the ARP responder told until when each is held. A node
//! labelled `node.kubernetes.io/exclude-from-external-load-balancers` stands for nothing
//! (releasing what it held), as MetalLB's speakers.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use podnet_arp::Responder;
use podnet_k8s_lease::{Election, LeaseRef, LeaseView, Timing};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::wanted::wanted;

/// The election's durations. Fail-over aim: under 2 s after the holder dies or leaves the
/// network. A rival takes over `lease_duration` (1 s, the smallest `leaseDurationSeconds`)
/// after it last saw a renewal; renewals come every 200 ms, so at most ~1.2 s plus one
/// write after the holder's last one. The holder falls silent 700 ms after it sent its last
/// successful renewal: three renewals may fail first, and 300 ms (30 %) is left for the two
/// nodes' clocks to run at different rates before both could answer.
pub const TIMING: Timing = Timing {
    lease_duration: Duration::from_secs(1),
    renew_deadline: Duration::from_millis(700),
    retry_period: Duration::from_millis(200),
};
/// Where the per-address Leases live, and the label the announcers watch them by.
pub const LEASE_NAMESPACE: &str = "kube-system";
pub const LEASE_LABEL: &str = "podnet.io/l2-announce";
/// How often the node's address is looked for while it has none yet.
const NODE_RETRY: Duration = Duration::from_secs(1);
/// Gratuitous announcements sent on takeover (a lost frame would leave a stale cache).
const ANNOUNCEMENTS: usize = 2;
const ANNOUNCE_GAP: Duration = Duration::from_millis(100);

/// What the agent's command line says about announcing.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This node's name: the identity in the Leases.
    pub node: String,
    /// The interface to answer on; None: the one holding the node's InternalIP.
    pub interface: Option<String>,
    /// The namespace to answer in; None: the agent's own.
    pub netns: Option<PathBuf>,
    pub timing: Timing,
}

/// What every per-address Lease's name starts with.
pub const LEASE_PREFIX: &str = "podnet-l2-";

/// `podnet-l2-172-18-255-200`.
pub fn lease_name(ip: Ipv4Addr) -> String {
    format!("{LEASE_PREFIX}{}", ip.to_string().replace('.', "-"))
}

/// One address this node stands for.
struct Standing {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Announces until `shutdown`; on the way out every address is released.
pub async fn run(
    settings: Settings,
    client: kube::Client,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let mut shutdown = std::pin::pin!(shutdown);
    let responder = tokio::select! {
        () = &mut shutdown => return Ok(()),
        r = open_responder(&settings, &client) => Arc::new(r?),
    };
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let (view, watching) = podnet_k8s_lease::watch_leases(
        leases.clone(),
        watcher::Config::default().labels(&format!("{LEASE_LABEL}=true")),
    );
    let watching = tokio::spawn(watching);
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
    // Its own Node only: the exclude-from-external-load-balancers label silences it.
    let own = watcher::Config::default().fields(&format!("metadata.name={}", settings.node));
    let mut nodes = watcher(Api::<Node>::all(client), own)
        .default_backoff()
        .boxed();
    let mut store = Store::default();
    let mut standing: BTreeMap<Ipv4Addr, Standing> = BTreeMap::new();
    tracing::info!(interface = responder.interface(), mac = %responder.mac(), "l2 announcer started");
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(event) = services.next() => store.services.apply(event),
            Some(event) = slices.next() => store.slices.apply(event),
            Some(event) = nodes.next() => store.nodes.apply(event),
        }
        if !(store.services.listed && store.slices.listed && store.nodes.listed) {
            continue;
        }
        let excluded = store
            .nodes
            .objects
            .values()
            .any(podnet_k8s_model::excluded_from_external_load_balancers);
        let want = if excluded {
            BTreeMap::new()
        } else {
            wanted(
                &settings.node,
                store.services.objects.values(),
                store.slices.objects.values(),
            )
        };
        standing.retain(|ip, s| {
            let keep = want.contains_key(ip) && !s.task.is_finished();
            if !keep {
                tracing::info!(%ip, "no longer wanted here: releasing");
                let stop = std::mem::replace(&mut s.stop, oneshot::channel().0);
                let _ = stop.send(());
            }
            keep
        });
        for (ip, behind) in want {
            if standing.contains_key(&ip) {
                continue;
            }
            tracing::info!(%ip, services = ?behind, "standing for the address");
            let (stop, stopped) = oneshot::channel();
            let task = tokio::spawn(stand_for(
                ip,
                leases.clone(),
                view.clone(),
                Election::new(settings.node.clone(), settings.timing),
                responder.clone(),
                async move {
                    let _ = stopped.await;
                },
            ));
            standing.insert(ip, Standing { stop, task });
        }
    }
    // Released before the agent exits, so that rivals need not wait the leases out.
    let tasks: Vec<_> = standing
        .into_values()
        .map(|s| {
            let _ = s.stop.send(());
            s.task
        })
        .collect();
    let _ = tokio::time::timeout(
        settings.timing.renew_deadline * 2,
        futures::future::join_all(tasks),
    )
    .await;
    watching.abort();
    Ok(())
}

/// One address: the Lease candidate, and the responder told until when it is held.
async fn stand_for(
    ip: Ipv4Addr,
    api: Api<Lease>,
    view: LeaseView,
    election: Election,
    responder: Arc<Responder>,
    stop: impl Future<Output = ()>,
) {
    let (holding, mut held) = watch::channel(None);
    let lease = LeaseRef {
        namespace: LEASE_NAMESPACE.to_owned(),
        name: lease_name(ip),
        labels: [(LEASE_LABEL.to_owned(), "true".to_owned())].into(),
    };
    let candidate = podnet_k8s_lease::run(api, lease, election, view, holding, stop);
    let answer = async {
        let mut was_held = false;
        while held.changed().await.is_ok() {
            let until = *held.borrow_and_update();
            responder.answer_until(ip, until);
            match (was_held, until.is_some()) {
                (false, true) => {
                    tracing::info!(%ip, "announcing: answering ARP");
                    for n in 0..ANNOUNCEMENTS {
                        if n > 0 {
                            tokio::time::sleep(ANNOUNCE_GAP).await;
                        }
                        if let Err(error) = responder.announce(ip) {
                            tracing::warn!(%ip, %error, "gratuitous ARP not sent");
                        }
                    }
                }
                (true, false) => tracing::info!(%ip, "no longer answering ARP"),
                _ => {}
            }
            was_held = until.is_some();
        }
        responder.answer_until(ip, None);
    };
    tokio::join!(candidate, answer);
}

/// The responder on the configured interface, or on the one holding the node's
/// InternalIP (waited for: the Node may not show its address yet).
async fn open_responder(settings: &Settings, client: &kube::Client) -> Result<Responder, Error> {
    if let Some(interface) = &settings.interface {
        return Ok(Responder::start(interface, settings.netns.as_deref())?);
    }
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let node = nodes
            .get_opt(&settings.node)
            .await
            .map_err(|source| Error::Node {
                node: settings.node.clone(),
                source,
            });
        let ip = match node {
            Ok(Some(node)) => internal_ipv4(&node),
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%error, "reading this node");
                None
            }
        };
        if let Some(ip) = ip
            && let Some(interface) =
                podnet_arp::interface_holding_in(settings.netns.as_deref(), ip)?
        {
            return Ok(Responder::start(&interface, settings.netns.as_deref())?);
        }
        tokio::time::sleep(NODE_RETRY).await;
    }
}

fn internal_ipv4(node: &Node) -> Option<Ipv4Addr> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .filter(|a| a.type_ == "InternalIP")
        .find_map(|a| a.address.parse().ok())
}

/// The Services, EndpointSlices and this node as listed and watched.
#[derive(Default)]
struct Store {
    services: Objects<Service>,
    slices: Objects<EndpointSlice>,
    nodes: Objects<Node>,
}

/// Objects of one kind by `namespace/name`; `listed` once the first list is complete.
struct Objects<K> {
    objects: BTreeMap<String, K>,
    listing: BTreeMap<String, K>,
    listed: bool,
}

impl<K> Default for Objects<K> {
    fn default() -> Self {
        Objects {
            objects: BTreeMap::new(),
            listing: BTreeMap::new(),
            listed: false,
        }
    }
}

// === impl Objects ===

impl<K: kube::Resource> Objects<K> {
    fn apply(&mut self, event: Result<watcher::Event<K>, watcher::Error>) {
        let key = |o: &K| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any());
        match event {
            Ok(watcher::Event::Init) => self.listing.clear(),
            Ok(watcher::Event::InitApply(o)) => _ = self.listing.insert(key(&o), o),
            Ok(watcher::Event::InitDone) => {
                self.objects = std::mem::take(&mut self.listing);
                self.listed = true;
            }
            Ok(watcher::Event::Apply(o)) => _ = self.objects.insert(key(&o), o),
            Ok(watcher::Event::Delete(o)) => _ = self.objects.remove(&key(&o)),
            Err(error) => tracing::debug!(%error, "announcer watch"),
        }
    }
}
