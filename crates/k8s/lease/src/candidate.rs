//! One candidate of one Lease, against the API: observes the Lease through a shared
//! [`LeaseView`], writes it compare-and-swap when its [`Election`] says so, and publishes
//! until when it may act as the holder.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::watch;

use crate::election::{Election, Record, Step, Write};
use crate::error::Error;

/// The Leases of one namespace (by name) that a watch keeps current; None until the first
/// complete list.
pub type LeaseView = watch::Receiver<Option<Arc<BTreeMap<String, Lease>>>>;

/// Until when this candidate may act as the holder (None: not at all).
pub type Holding = watch::Sender<Option<Instant>>;

/// Keeps `view` current from a watch of `api` until the returned future is dropped.
pub fn watch_leases(
    api: Api<Lease>,
    config: watcher::Config,
) -> (LeaseView, impl Future<Output = ()>) {
    let (tx, rx) = watch::channel(None);
    let run = async move {
        let mut events = watcher(api, config).default_backoff().boxed();
        let mut listing = BTreeMap::new();
        let mut current = BTreeMap::new();
        let mut listed = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => listing.clear(),
                Ok(watcher::Event::InitApply(l)) => _ = listing.insert(l.name_any(), l),
                Ok(watcher::Event::InitDone) => {
                    current = std::mem::take(&mut listing);
                    listed = true;
                }
                Ok(watcher::Event::Apply(l)) => _ = current.insert(l.name_any(), l),
                Ok(watcher::Event::Delete(l)) => _ = current.remove(&l.name_any()),
                Err(error) => {
                    tracing::debug!(%error, "watching leases");
                    continue;
                }
            }
            if listed {
                tx.send_replace(Some(Arc::new(current.clone())));
            }
        }
    };
    (rx, run)
}

/// One Lease to stand for.
#[derive(Debug, Clone)]
pub struct LeaseRef {
    pub namespace: String,
    pub name: String,
    /// Put on the Lease when it is created (so that a selective watch sees it).
    pub labels: BTreeMap<String, String>,
}

/// The Lease's part that an election reads.
pub fn record_of(lease: &Lease) -> Record {
    let spec = lease.spec.clone().unwrap_or_default();
    Record {
        resource_version: lease.resource_version().unwrap_or_default(),
        holder: spec.holder_identity,
        lease_duration: Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

/// Stands for `lease` until `stop` completes, publishing through `holding`; on the way out
/// it stops holding first and then releases the Lease (so that a rival need not wait it out).
pub async fn run(
    api: Api<Lease>,
    lease: LeaseRef,
    mut election: Election,
    mut view: LeaseView,
    holding: Holding,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut current: Option<Lease> = None;
    loop {
        let now = Instant::now();
        // Read every time round: waiting on `view.changed()` below marks the news as seen.
        let listed = view.borrow_and_update().clone();
        if let Some(all) = listed {
            let from_view = all.get(&lease.name).cloned();
            if is_newer(from_view.as_ref(), current.as_ref()) {
                current = from_view;
            }
            election.observe(current.as_ref().map(record_of), now);
        }
        holding.send_if_modified(|h| replace(h, current_hold(&election)));
        let wait = match election.step(now) {
            Step::Write(write) => {
                let sent = Instant::now();
                let timeout = election.timing().renew_deadline;
                let desired = desired(&lease, current.as_ref(), &election, write);
                let result = tokio::time::timeout(timeout, store(&api, &lease, desired)).await;
                match result {
                    Ok(Ok(stored)) => {
                        election.written(sent, record_of(&stored), Instant::now());
                        if write != Write::Renew {
                            tracing::info!(lease = %lease.name, holder = election.identity(),
                                "lease acquired");
                        }
                        current = Some(stored);
                    }
                    Ok(Err(error)) => {
                        tracing::debug!(lease = %lease.name, %error, ?write, "lease write failed");
                        election.failed(sent);
                    }
                    Err(_) => {
                        tracing::debug!(lease = %lease.name, ?write, "lease write timed out");
                        election.failed(sent);
                    }
                }
                holding.send_if_modified(|h| replace(h, current_hold(&election)));
                continue;
            }
            Step::Wait(until) => Some(until),
            Step::Observe => None,
        };
        // Wake when the holding deadline passes too, so that it is published as over.
        let wake = [wait, election.holding_until().filter(|u| *u > now)]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            () = sleep => {}
            changed = view.changed() => if changed.is_err() { break },
        }
    }
    let was_named = current
        .as_ref()
        .is_some_and(|l| record_of(l).holder.as_deref() == Some(election.identity()));
    election.resign();
    holding.send_replace(None);
    if was_named && let Some(lease_now) = current {
        release(&api, &lease, lease_now, election.timing().renew_deadline).await;
    }
}

/// The fence while it is ahead; None once passed (so that watchers of [`Holding`] wake).
fn current_hold(election: &Election) -> Option<Instant> {
    election
        .holding_until()
        .filter(|until| Instant::now() < *until)
}

fn replace(slot: &mut Option<Instant>, value: Option<Instant>) -> bool {
    let changed = *slot != value;
    *slot = value;
    changed
}

/// Whether `a` is a later version than `b` (resourceVersions compared as numbers when both
/// are, as the API server hands them out; otherwise any difference counts).
fn is_newer(a: Option<&Lease>, b: Option<&Lease>) -> bool {
    let rv = |l: Option<&Lease>| l.and_then(|l| l.resource_version());
    match (rv(a), rv(b)) {
        (Some(a), Some(b)) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) => a > b,
            _ => a != b,
        },
        (None, Some(_)) => true,
        (Some(_), None) => true,
        (None, None) => false,
    }
}

/// The Lease as `write` leaves it.
fn desired(lease: &LeaseRef, current: Option<&Lease>, election: &Election, write: Write) -> Lease {
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let mut out = current.cloned().unwrap_or_else(|| Lease {
        metadata: ObjectMeta {
            name: Some(lease.name.clone()),
            namespace: Some(lease.namespace.clone()),
            labels: Some(lease.labels.clone()),
            ..Default::default()
        },
        spec: None,
    });
    let mut spec = out.spec.take().unwrap_or_default();
    if write != Write::Renew || spec.acquire_time.is_none() {
        spec.acquire_time = Some(now.clone());
    }
    out.spec = Some(LeaseSpec {
        holder_identity: Some(election.identity().to_owned()),
        lease_duration_seconds: Some(election.timing().lease_duration_seconds()),
        renew_time: Some(now),
        lease_transitions: Some(election.transitions_after(write)),
        ..spec
    });
    out
}

/// Creates the Lease, or replaces it at the resourceVersion it carries (compare-and-swap).
async fn store(api: &Api<Lease>, lease: &LeaseRef, desired: Lease) -> Result<Lease, Error> {
    let result = if desired.metadata.resource_version.is_some() {
        api.replace(&lease.name, &PostParams::default(), &desired)
            .await
    } else {
        api.create(&PostParams::default(), &desired).await
    };
    result.map_err(|source| Error::Api {
        namespace: lease.namespace.clone(),
        name: lease.name.clone(),
        source,
    })
}

/// Writes the Lease released (no holder), as client-go's ReleaseOnCancel; best effort.
async fn release(api: &Api<Lease>, lease: &LeaseRef, mut current: Lease, timeout: Duration) {
    if let Some(spec) = current.spec.as_mut() {
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
    }
    match tokio::time::timeout(timeout, store(api, lease, current)).await {
        Ok(Ok(_)) => tracing::info!(lease = %lease.name, "lease released"),
        Ok(Err(error)) => tracing::debug!(lease = %lease.name, %error, "lease not released"),
        Err(_) => tracing::debug!(lease = %lease.name, "lease release timed out"),
    }
}
