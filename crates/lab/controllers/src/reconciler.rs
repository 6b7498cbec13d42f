//! What every controller's loop shares: kube-rs's `Controller` run until shutdown, a failed
//! sync logged and tried again after `retry`.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::Resource;
use kube::runtime::controller::{Action, Controller};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// Runs `controller` with `reconcile` until `shutdown`.
pub async fn drive<K, C, Fut>(
    controller: Controller<K>,
    shutdown: CancellationToken,
    reconcile: impl FnMut(Arc<K>, Arc<C>) -> Fut,
    ctx: Arc<C>,
    retry: Duration,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    C: Send + Sync + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    let retry_later = move |_: Arc<K>, error: &Error, _: Arc<C>| {
        tracing::warn!(kind = %K::kind(&()), %error, "sync failed; retrying");
        Action::requeue(retry)
    };
    controller
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, retry_later, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(kind = %K::kind(&()), %error, "reconcile");
            }
        })
        .await;
}
