//! LoadBalancer addresses: every `type: LoadBalancer` Service of podnet's class (or none) gets
//! `status.loadBalancer.ingress[].ip` from the pools, through the status subresource, with an
//! `IPAllocated` event (MetalLB's reason); when it cannot, an `AllocationFailed` warning and
//! the condition [`CONDITION`] = False say why, so EXTERNAL-IP is never a silent `<pending>`.
//!
//! The allocation itself is `podnet_lab_controllers_alloc::lb` (pure). The pools are
//! `LoadBalancerIPPool` objects ([`pools`]; the lab creates its own from the kind config).
//! Only the holder of the `kube-system/podnet-lb-ipam` Lease allocates ([`leader`]), so two
//! controllers never hand out one address. Each leadership term watches Services and pools
//! afresh: once both are listed it replays the Services that already show an address first
//! (a restart keeps them), deletions release, a change of pools replays everything, and
//! Services that failed are retried whenever an address is freed. Every [`SWEEP`] the leader
//! also deletes the L2 announcers' per-address Leases of addresses no Service has any more
//! (`podnet_agent_announce::stale`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use podnet_k8s_events::{Broadcaster, EventType, Recorder, Reference, Source};
use podnet_lab_controllers_alloc::{LbAllocError, LbAllocator, LbOutcome, LbService, Pool};

use crate::error::{Error, is_not_found};

mod leader;
pub mod pools;

use leader::Fence;

/// How often the leader deletes the per-address Leases of addresses no Service has.
pub const SWEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// The Service condition telling whether its address request is satisfied.
pub const CONDITION: &str = "lbipam.podnet.io/RequestSatisfied";

/// The allocator's view of a Service.
pub fn lb_service(svc: &Service) -> LbService {
    let spec = svc.spec.clone().unwrap_or_default();
    LbService {
        key: key(svc),
        is_load_balancer: spec.type_.as_deref() == Some("LoadBalancer"),
        class: spec.load_balancer_class,
        labels: svc.labels().clone(),
        annotations: svc.annotations().clone(),
        load_balancer_ip: spec.load_balancer_ip,
        ports: spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.protocol.unwrap_or_else(|| "TCP".into()), p.port as u16))
            .collect(),
        status_ips: status_ips(svc),
    }
}

fn key(svc: &Service) -> String {
    format!("{}/{}", svc.namespace().unwrap_or_default(), svc.name_any())
}

/// `status.loadBalancer.ingress[].ip` as stored.
pub fn status_ips(svc: &Service) -> Vec<IpAddr> {
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    ingress
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

/// The Service's conditions with ours set to `status`/`reason`/`message`; None if unchanged.
pub fn with_condition(
    svc: &Service,
    status: &str,
    reason: &str,
    message: &str,
) -> Option<Vec<Condition>> {
    let mut conditions = svc
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let ours = conditions.iter_mut().find(|c| c.type_ == CONDITION);
    if let Some(c) = &ours
        && c.status == status
        && c.reason == reason
        && c.message == message
    {
        return None;
    }
    let condition = Condition {
        type_: CONDITION.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        observed_generation: svc.metadata.generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
    };
    match ours {
        Some(c) => *c = condition,
        None => conditions.push(condition),
    }
    Some(conditions)
}

struct Ipam {
    client: Client,
    allocator: LbAllocator,
    recorder: Recorder,
    /// Services that got no address, retried when one is freed.
    failed: BTreeMap<String, Service>,
    /// Until when this controller leads (its Lease's fence); no status is written after.
    fence: Fence,
}

/// Runs the LoadBalancer address allocator until `shutdown`: `pools` (the lab's) are
/// created as LoadBalancerIPPool objects first, then the controller allocates from the
/// pool objects, while it holds the lb-ipam Lease as `identity` ([`leader`]).
pub async fn run(
    client: Client,
    pools: Vec<Pool>,
    identity: String,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    pools::ensure(&client, &pools, &shutdown).await?;
    leader::run(client, identity, shutdown).await
}

/// One leadership term: watches Services and pools from scratch (the replay after the
/// initial lists rebuilds the allocator) and allocates until the fence passes or `shutdown`.
async fn term(client: Client, fence: Fence, shutdown: &CancellationToken) -> Result<(), Error> {
    let (broadcaster, recorder) =
        Broadcaster::new(client.clone(), Source::new("lb-ipam-controller", None));
    let events_task = tokio::spawn(broadcaster.run());
    let mut ipam = Ipam {
        client: client.clone(),
        allocator: LbAllocator::new(Vec::new()),
        recorder,
        failed: BTreeMap::new(),
        fence: fence.clone(),
    };
    let mut services = watcher(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .boxed();
    let pool_api: Api<DynamicObject> = Api::all_with(client, &pools::resource());
    let mut pool_events = watcher(pool_api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut store = Store::default();
    let mut fence_changes = fence.clone();
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        if !leader::leads(&fence) {
            break Ok(());
        }
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = fence_changes.changed() => {}
            event = services.try_next() => match event {
                Ok(Some(event)) => store.service_event(&mut ipam, event).await,
                Ok(None) => break Ok(()),
                Err(error) => tracing::debug!(%error, "lb-ipam watch of Services"),
            },
            event = pool_events.try_next() => match event {
                Ok(Some(event)) => store.pool_event(&mut ipam, event).await,
                Ok(None) => break Ok(()),
                Err(error) => tracing::warn!(%error,
                    "lb-ipam watch of LoadBalancerIPPools (is the definition installed?)"),
            },
            _ = sweep.tick(), if store.services_listed => {
                let in_use = store.services.values().flat_map(status_ips).filter_map(|ip| match ip {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                }).collect();
                if let Err(error) = podnet_agent_announce::stale::sweep(&ipam.client, &in_use).await {
                    tracing::warn!(%error, "deleting stale L2 announcement Leases");
                }
            }
        }
    };
    events_task.abort();
    result
}

/// What the watches have listed so far.
#[derive(Default)]
struct Store {
    services: BTreeMap<String, Service>,
    services_listing: Vec<Service>,
    services_listed: bool,
    pools: BTreeMap<String, Pool>,
    pools_listing: BTreeMap<String, Pool>,
    pools_listed: bool,
}

// === impl Store ===

impl Store {
    fn ready(&self) -> bool {
        self.services_listed && self.pools_listed
    }

    async fn service_event(&mut self, ipam: &mut Ipam, event: watcher::Event<Service>) {
        match event {
            watcher::Event::Init => self.services_listing.clear(),
            watcher::Event::InitApply(svc) => self.services_listing.push(svc),
            watcher::Event::InitDone => {
                let listed = std::mem::take(&mut self.services_listing);
                self.services = listed.into_iter().map(|s| (key(&s), s)).collect();
                self.services_listed = true;
                self.replay(ipam).await;
            }
            watcher::Event::Apply(svc) => {
                self.services.insert(key(&svc), svc.clone());
                if self.ready() {
                    ipam.reconcile(svc).await;
                }
            }
            watcher::Event::Delete(svc) => {
                let key = key(&svc);
                self.services.remove(&key);
                ipam.failed.remove(&key);
                if self.ready() && !ipam.allocator.held_by(&key).is_empty() {
                    ipam.allocator.release(&key);
                    tracing::info!(service = %key, "released its LoadBalancer addresses");
                    ipam.retry_failed().await;
                }
            }
        }
    }

    async fn pool_event(&mut self, ipam: &mut Ipam, event: watcher::Event<DynamicObject>) {
        let read = |obj: &DynamicObject| match pools::pool_of(obj) {
            Ok(pool) => Some(pool),
            Err(error) => {
                tracing::warn!(pool = %obj.name_any(), %error, "LoadBalancerIPPool ignored");
                None
            }
        };
        // A change of pools re-decides every Service (one may now fit, or no longer).
        let changed = !matches!(event, watcher::Event::Init | watcher::Event::InitApply(_));
        match event {
            watcher::Event::Init => self.pools_listing.clear(),
            watcher::Event::InitApply(obj) => {
                if let Some(pool) = read(&obj) {
                    self.pools_listing.insert(pool.name.clone(), pool);
                }
            }
            watcher::Event::InitDone => {
                self.pools = std::mem::take(&mut self.pools_listing);
                self.pools_listed = true;
            }
            watcher::Event::Apply(obj) => match read(&obj) {
                Some(pool) => _ = self.pools.insert(pool.name.clone(), pool),
                None => _ = self.pools.remove(&obj.name_any()),
            },
            watcher::Event::Delete(obj) => _ = self.pools.remove(&obj.name_any()),
        }
        if changed {
            self.replay(ipam).await;
        }
    }

    /// Rebuilds the allocator from the pools (by name: the first that selects a Service
    /// serves it) and every Service; those that already show an address go first, so none
    /// loses it to a newcomer.
    async fn replay(&self, ipam: &mut Ipam) {
        if !self.ready() {
            return;
        }
        ipam.allocator = LbAllocator::new(self.pools.values().cloned().collect());
        ipam.failed.clear();
        let mut services: Vec<Service> = self.services.values().cloned().collect();
        services.sort_by_key(|s| status_ips(s).is_empty());
        for svc in services {
            ipam.reconcile(svc).await;
        }
    }
}

// === impl Ipam ===

impl Ipam {
    async fn reconcile(&mut self, svc: Service) {
        if svc.metadata.deletion_timestamp.is_some() {
            return;
        }
        let key = key(&svc);
        let held_before = self.allocator.held_by(&key);
        let result = self.allocator.assign(&lb_service(&svc));
        let freed = held_before
            .iter()
            .any(|ip| !self.allocator.held_by(&key).contains(ip));
        match result {
            Ok(LbOutcome::Assigned(ips)) => {
                self.failed.remove(&key);
                self.assigned(&svc, &ips).await;
            }
            Ok(LbOutcome::NotServed) => {
                self.failed.remove(&key);
                self.not_served(&svc).await;
            }
            Err(error) => {
                self.failed.insert(key, svc.clone());
                self.failed(&svc, &error).await;
            }
        }
        if freed {
            self.retry_failed().await;
        }
    }

    /// Retries every Service that got no address (an address may have been freed).
    async fn retry_failed(&mut self) {
        let failed = std::mem::take(&mut self.failed);
        for (_, svc) in failed {
            // The newest copy: the stored one may be stale.
            match self.api_for(&svc).get_opt(&svc.name_any()).await {
                Ok(Some(fresh)) => Box::pin(self.reconcile(fresh)).await,
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(service = %key(&svc), %error, "re-reading a pending Service");
                    self.failed.insert(key(&svc), svc);
                }
            }
        }
    }

    async fn assigned(&self, svc: &Service, ips: &[IpAddr]) {
        let message = format!(
            "Assigned IP {:?}",
            ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>()
        );
        let conditions = with_condition(svc, "True", "Allocated", &message);
        if status_ips(svc) == ips && conditions.is_none() {
            return;
        }
        let ingress: Vec<_> = ips
            .iter()
            .map(|ip| json!({"ip": ip.to_string(), "ipMode": "VIP"}))
            .collect();
        let mut status = json!({"loadBalancer": {"ingress": ingress}});
        if let Some(conditions) = conditions {
            status["conditions"] = json!(conditions);
        }
        if self.write_status(svc, status).await && status_ips(svc) != ips {
            tracing::info!(service = %key(svc), ?ips, "LoadBalancer address assigned");
            self.recorder.event(
                &Reference::of(svc),
                EventType::Normal,
                "IPAllocated",
                message,
            );
        }
    }

    async fn failed(&self, svc: &Service, error: &LbAllocError) {
        let message = format!("Failed to allocate IP for {:?}: {error}", key(svc));
        let Some(conditions) = with_condition(svc, "False", error.reason(), &error.to_string())
        else {
            return;
        };
        let status = json!({"loadBalancer": {"ingress": null}, "conditions": conditions});
        if self.write_status(svc, status).await {
            tracing::warn!(service = %key(svc), %error, "no LoadBalancer address");
            self.recorder.event(
                &Reference::of(svc),
                EventType::Warning,
                "AllocationFailed",
                message,
            );
        }
    }

    /// Not ours (any more): a Service of another class is left alone; one that stopped being a
    /// LoadBalancer loses the address and condition this controller gave it.
    async fn not_served(&self, svc: &Service) {
        let spec = svc.spec.as_ref();
        let other_class = spec
            .and_then(|s| s.load_balancer_class.as_deref())
            .is_some_and(|c| c != podnet_lab_controllers_alloc::lb::LB_CLASS);
        let conditions = svc
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let had_ours = conditions.iter().any(|c| c.type_ == CONDITION);
        if other_class || (status_ips(svc).is_empty() && !had_ours) {
            return;
        }
        let rest: Vec<_> = conditions
            .into_iter()
            .filter(|c| c.type_ != CONDITION)
            .collect();
        let rest = if rest.is_empty() {
            json!(null)
        } else {
            json!(rest)
        };
        let status = json!({"loadBalancer": {"ingress": null}, "conditions": rest});
        self.write_status(svc, status).await;
    }

    fn api_for(&self, svc: &Service) -> Api<Service> {
        Api::namespaced(self.client.clone(), &svc.namespace().unwrap_or_default())
    }

    /// A merge patch of the status subresource; false (logged) if it failed.
    async fn write_status(&self, svc: &Service, status: serde_json::Value) -> bool {
        if !leader::leads(&self.fence) {
            return false;
        }
        let api = self.api_for(svc);
        let patch = json!({"status": status});
        match api
            .patch_status(
                &svc.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => true,
            Err(e) if is_not_found(&e) => false,
            Err(error) => {
                tracing::warn!(service = %key(svc), %error, "writing the Service's status");
                false
            }
        }
    }
}

#[cfg(test)]
#[path = "lb_ipam_tests.rs"]
mod tests;
