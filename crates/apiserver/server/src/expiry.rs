//! The task that removes expired objects (Events past `--event-ttl`) from the store.

use std::time::{Duration, Instant};

use podnet_apiserver_store::Store;

/// How long the task sleeps when nothing expires: a write may add a deadline at any time,
/// and a deadline is never earlier than one TTL away.
const IDLE: Duration = Duration::from_secs(1);

/// Sleeps until the next deadline (at most [`IDLE`]), removes what is due, until shutdown.
pub(crate) async fn run(store: Store, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let now = Instant::now();
        let wake = store
            .next_expiry()
            .map_or(now + IDLE, |at| at.min(now + IDLE));
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = shutdown.wait_for(|stopped| *stopped) => return,
        }
        match store.expire(Instant::now()) {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired objects removed"),
            Err(error) => tracing::warn!(%error, "removing expired objects failed"),
        }
    }
}
