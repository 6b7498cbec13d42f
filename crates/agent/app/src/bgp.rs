//! The BGP speaker in the agent: Services, EndpointSlices and this Node watched through
//! kube-rs, normalised into the model, turned into the prefixes this node announces
//! (`podnet_agent_bgp::announcements`, pure) and handed to the speaker, which keeps the
//! router's view in step.
//!
//! ```text
//! watcher(Services) ───────┐
//! watcher(EndpointSlices) ─┼─▶ Listed stores ──(all lists complete)──▶ announcements() ──watch──▶ Speaker
//! watcher(Nodes: ours) ────┘
//! ```
//!
//! Nothing is announced before every initial list is complete; a relist keeps the previous
//! set until the new list is.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::StreamExt;
use ipnet::{IpNet, Ipv4Net};
use k8s_openapi::api::core::v1::{Node, Service as KubeService};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_api};
use kube::{Api, ResourceExt};
use podnet_agent_bgp::{Speaker, announcements};
use podnet_k8s_model::{EndpointSliceInfo, NodeRoute, Service};
use tokio::sync::watch;
use tracing::Instrument;

use crate::error::Result;
use crate::events::drain;

/// The speaker's part of the agent's command line.
#[derive(Clone, Debug)]
pub struct BgpSettings {
    pub speaker: podnet_agent_bgp::Settings,
    /// Announce this node's pod CIDR too (`--routing bgp`).
    pub announce_pod_cidr: bool,
}

/// Runs the speaker for node `node` until `shutdown` (then it ends its session with a
/// Cease, and the router withdraws this node's routes at once).
pub async fn run(
    settings: BgpSettings,
    client: kube::Client,
    node: String,
    shutdown: impl Future<Output = ()> + Clone,
) -> Result<()> {
    let peer = settings.speaker.peer;
    let span = tracing::info_span!("bgp", peer = %peer.addr, peer_asn = peer.asn,
        asn = settings.speaker.local_asn);
    async move {
        let (tx, rx) = watch::channel(BTreeSet::new());
        let speaker = Speaker::new(settings.speaker).run(rx, shutdown.clone());
        let watch = follow(client, node, settings.announce_pod_cidr, tx, shutdown);
        let (spoken, ()) = tokio::join!(speaker, watch);
        spoken.map_err(Into::into)
    }
    .instrument(span)
    .await
}

/// Keeps `tx` holding what this node announces until `shutdown`.
async fn follow(
    client: kube::Client,
    node: String,
    announce_pod_cidr: bool,
    tx: watch::Sender<BTreeSet<Ipv4Net>>,
    shutdown: impl Future<Output = ()>,
) {
    let mut services = watch_api(Api::<KubeService>::all(client.clone()), Default::default())
        .default_backoff()
        .boxed();
    let mut slices = watch_api(
        Api::<EndpointSlice>::all(client.clone()),
        Default::default(),
    )
    .default_backoff()
    .boxed();
    let own = watcher::Config::default().fields(&format!("metadata.name={node}"));
    let mut nodes = watch_api(Api::<Node>::all(client), own)
        .default_backoff()
        .boxed();
    let mut svc_store = Listed::default();
    let mut slice_store = Listed::default();
    let mut node_store = Listed::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let changed = tokio::select! {
            () = &mut shutdown => return,
            Some(e) = services.next() => drain(e, &mut services, |e| svc_store.apply(e, normalise_service)),
            Some(e) = slices.next() => drain(e, &mut slices, |e| slice_store.apply(e, normalise_slice)),
            Some(e) = nodes.next() => node_store.apply(e, node_facts),
        };
        if !(changed && svc_store.synced && slice_store.synced && node_store.synced) {
            continue;
        }
        let facts = node_store
            .items
            .values()
            .next()
            .copied()
            .unwrap_or_default();
        let cidr = announce_pod_cidr.then_some(facts.pod_cidr).flatten();
        let services: Vec<Service> = svc_store.items.values().cloned().collect();
        let slices: Vec<EndpointSliceInfo> = slice_store.items.values().cloned().collect();
        let mut want = announcements(&node, cidr, &services, &slices);
        if facts.excluded_from_load_balancers {
            want = want.pod_cidr_only();
        }
        let prefixes = want.prefixes();
        tx.send_if_modified(|have| {
            if *have == prefixes {
                return false;
            }
            tracing::info!(announcements = %want, "announcements changed");
            *have = prefixes;
            true
        });
    }
}

/// One kind's objects by `namespace/name`, normalised; complete once the watcher's initial
/// list is.
struct Listed<V> {
    items: BTreeMap<String, V>,
    /// The list being received after a (re)start of the watch; swapped in at `InitDone`.
    pending: Option<BTreeMap<String, V>>,
    synced: bool,
}

impl<V> Default for Listed<V> {
    fn default() -> Self {
        Listed {
            items: BTreeMap::new(),
            pending: None,
            synced: false,
        }
    }
}

impl<V: PartialEq> Listed<V> {
    /// Applies one watcher event; returns whether the complete set changed. Objects that
    /// `normalise` refuses are left out (as if absent).
    fn apply<K: kube::Resource>(
        &mut self,
        event: Result<Event<K>, watcher::Error>,
        normalise: fn(&K) -> Option<V>,
    ) -> bool {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                // The backoff retries; the last complete set stays meanwhile.
                tracing::warn!(%error, "watching for bgp announcements");
                return false;
            }
        };
        let key = |o: &K| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any());
        match event {
            Event::Init => {
                self.pending = Some(BTreeMap::new());
                false
            }
            Event::InitApply(o) => {
                if let (Some(pending), Some(v)) = (self.pending.as_mut(), normalise(&o)) {
                    pending.insert(key(&o), v);
                }
                false
            }
            Event::InitDone => {
                let listed = self.pending.take().unwrap_or_default();
                let changed = !self.synced || listed != self.items;
                self.items = listed;
                self.synced = true;
                changed
            }
            Event::Apply(o) => match normalise(&o) {
                Some(v) => {
                    let k = key(&o);
                    let changed = self.items.get(&k) != Some(&v);
                    self.items.insert(k, v);
                    changed
                }
                None => self.items.remove(&key(&o)).is_some(),
            },
            Event::Delete(o) => self.items.remove(&key(&o)).is_some(),
        }
    }
}

fn normalise_service(svc: &KubeService) -> Option<Service> {
    Service::from_service(svc)
        .inspect_err(|error| tracing::debug!(%error, "ignoring a Service bgp cannot use"))
        .ok()
}

fn normalise_slice(slice: &EndpointSlice) -> Option<EndpointSliceInfo> {
    EndpointSliceInfo::from_slice(slice).ok().flatten()
}

/// What the speaker reads of its own Node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct NodeFacts {
    pod_cidr: Option<Ipv4Net>,
    /// `node.kubernetes.io/exclude-from-external-load-balancers`: no LoadBalancer /32s from
    /// here (MetalLB's BGP speakers honour it too); the pod CIDR is routing, and stays.
    excluded_from_load_balancers: bool,
}

fn node_facts(node: &Node) -> Option<NodeFacts> {
    Some(NodeFacts {
        pod_cidr: pod_cidr(node),
        excluded_from_load_balancers: podnet_k8s_model::excluded_from_external_load_balancers(node),
    })
}

/// The node's IPv4 pod CIDR, once the node IPAM controller gave it one.
fn pod_cidr(node: &Node) -> Option<Ipv4Net> {
    let route = NodeRoute::from_node(node).ok()?;
    route.pod_cidrs.iter().find_map(|c| match c {
        IpNet::V4(v4) => Some(*v4),
        IpNet::V6(_) => None,
    })
}
