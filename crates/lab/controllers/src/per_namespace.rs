//! One object, of one name, kept in every namespace that is not being deleted: created when
//! missing (also right after someone deletes it) and put back when it drifted. The
//! [`service_account`](crate::service_account) and [`root_ca`](crate::root_ca) controllers
//! are this loop with their own desired object.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::PostParams;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_conflict, is_not_found};
use crate::reconciler;

/// What one per-namespace controller keeps.
pub struct Keep<K> {
    /// The controller's name in logs and errors.
    pub what: &'static str,
    /// The object's name in every namespace.
    pub name: &'static str,
    /// The desired object in a namespace.
    pub want: Box<dyn Fn(&str) -> K + Send + Sync>,
    /// Whether the stored object must be replaced by the desired one.
    pub drifted: fn(have: &K, want: &K) -> bool,
}

trait Kept:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Kept for K where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

struct Ctx<K> {
    client: Client,
    keep: Keep<K>,
}

/// Runs `keep` until `shutdown`: reconciles each namespace when it changes and when its
/// object (by name) changes or goes.
#[allow(private_bounds)]
pub async fn run<K: Kept>(
    client: Client,
    keep: Keep<K>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let kept: Api<K> = Api::all(client.clone());
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", keep.name));
    let controller =
        Controller::new(namespaces, watcher::Config::default()).watches(kept, by_name, |obj: K| {
            obj.namespace().map(|ns| ObjectRef::new(&ns))
        });
    let ctx = Arc::new(Ctx { client, keep });
    reconciler::drive(controller, shutdown, reconcile, ctx, Duration::from_secs(2)).await;
    Ok(())
}

/// Whether a namespace takes new objects (upstream skips terminating ones).
pub fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

#[tracing::instrument(skip_all, fields(controller = ctx.keep.what, namespace = %ns.name_any()))]
async fn reconcile<K: Kept>(ns: Arc<Namespace>, ctx: Arc<Ctx<K>>) -> Result<Action, Error> {
    if !is_active(&ns) {
        return Ok(Action::await_change());
    }
    let namespace = ns.name_any();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let keep = &ctx.keep;
    let mut want = (keep.want)(&namespace);
    let failed = |e| Error::on(keep.what, format!("{namespace}/{}", keep.name))(e);
    match api.get_opt(keep.name).await.map_err(failed)? {
        None => match api.create(&PostParams::default(), &want).await {
            Ok(_) => tracing::info!(name = keep.name, "created"),
            // Created meanwhile, or the namespace started terminating: the watch tells.
            Err(e) if is_conflict(&e) || is_not_found(&e) => {}
            Err(e) if is_forbidden(&e) => {}
            Err(e) => return Err(failed(e)),
        },
        Some(have) if (keep.drifted)(&have, &want) => {
            want.meta_mut().resource_version = have.resource_version();
            api.replace(keep.name, &PostParams::default(), &want)
                .await
                .map_err(failed)?;
            tracing::info!(name = keep.name, "updated");
        }
        Some(_) => {}
    }
    Ok(Action::await_change())
}

/// A create into a namespace that began terminating is refused with 403.
fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}
