//! One allocator at a time: the controller allocates only while it holds the Lease
//! `kube-system/podnet-lb-ipam` (client-go's leader election, client-go's controller timing:
//! 15 s lease, 10 s renew deadline, 2 s retry), and stops writing at its fence — the renew
//! deadline on its own clock — whether or not it has heard that it lost.

use std::time::Instant;

use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::watcher;
use kube::{Api, Client};
use podnet_k8s_lease::{Election, LeaseRef, Timing};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

pub const LEASE_NAMESPACE: &str = "kube-system";
pub const LEASE_NAME: &str = "podnet-lb-ipam";

/// Until when this controller leads (None: it does not).
pub type Fence = watch::Receiver<Option<Instant>>;

/// Whether the controller leads at this instant.
pub fn leads(fence: &Fence) -> bool {
    fence.borrow().is_some_and(|until| Instant::now() < until)
}

/// Stands for the Lease as `identity` and allocates during each term it wins, until
/// `shutdown`; then releases the Lease so that another controller need not wait it out.
pub async fn run(
    client: Client,
    identity: String,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let selector = format!("metadata.name={LEASE_NAME}");
    let (view, watching) = podnet_k8s_lease::watch_leases(
        leases.clone(),
        watcher::Config::default().fields(&selector),
    );
    let watching = tokio::spawn(watching);
    let (holding, fence) = watch::channel(None);
    let lease = LeaseRef {
        namespace: LEASE_NAMESPACE.to_owned(),
        name: LEASE_NAME.to_owned(),
        labels: Default::default(),
    };
    let election = Election::new(identity, Timing::CONTROLLER);
    let candidate = podnet_k8s_lease::run(
        leases,
        lease,
        election,
        view,
        holding,
        shutdown.clone().cancelled_owned(),
    );
    let terms = async {
        let mut fence = fence;
        loop {
            while !leads(&fence) {
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    changed = fence.changed() => if changed.is_err() { return Ok(()) },
                }
            }
            tracing::info!("leading: allocating LoadBalancer addresses");
            super::term(client.clone(), fence.clone(), &shutdown).await?;
            if shutdown.is_cancelled() {
                return Ok(());
            }
            tracing::warn!("no longer leading: allocation stopped");
        }
    };
    let ((), result) = tokio::join!(candidate, terms);
    watching.abort();
    result
}
