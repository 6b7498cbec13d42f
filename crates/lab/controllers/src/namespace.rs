//! Namespace lifecycle, as upstream's namespace controller: the system namespaces exist; a
//! namespace being deleted (`deletionTimestamp` set, phase Terminating, the `kubernetes`
//! finalizer in `spec.finalizers`) is emptied of every namespaced resource the server lists
//! in discovery, then finalized through `namespaces/NAME/finalize`, after which the server
//! removes it.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_conflict, is_not_found};
use crate::reconciler;

/// The namespaces every cluster has.
pub const SYSTEM: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];
/// The finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

/// What to do with a namespace being deleted, given how many objects are left in it.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Not being deleted, or no longer ours to finish.
    Nothing,
    /// Delete what is left, then look again.
    DeleteContent,
    /// Empty: remove our finalizer.
    Finalize(Vec<String>),
}

pub fn next(ns: &Namespace, remaining: usize) -> Next {
    let finalizers = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.clone())
        .unwrap_or_default();
    if ns.metadata.deletion_timestamp.is_none() || !finalizers.iter().any(|f| f == FINALIZER) {
        return Next::Nothing;
    }
    if remaining > 0 {
        return Next::DeleteContent;
    }
    Next::Finalize(finalizers.into_iter().filter(|f| f != FINALIZER).collect())
}

struct Ctx {
    client: Client,
}

/// Creates the missing system namespaces, then runs the lifecycle until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in SYSTEM {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => tracing::info!(namespace = name, "created"),
            Err(e) if is_conflict(&e) => {}
            Err(e) => return Err(Error::on("creating namespace", *name)(e)),
        }
    }
    let controller = Controller::new(api, watcher::Config::default());
    reconciler::drive(
        controller,
        shutdown,
        reconcile,
        Arc::new(Ctx { client }),
        Duration::from_secs(2),
    )
    .await;
    Ok(())
}

#[tracing::instrument(skip_all, fields(namespace = %ns.name_any()))]
async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if next(&ns, 0) == Next::Nothing {
        return Ok(Action::await_change());
    }
    let name = ns.name_any();
    let resources = namespaced_resources(&ctx.client).await?;
    let mut remaining = 0;
    for ar in &resources {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, ar);
        remaining += api.list_metadata(&ListParams::default()).await?.items.len();
    }
    match next(&ns, remaining) {
        Next::Nothing => Ok(Action::await_change()),
        Next::DeleteContent => {
            tracing::info!(remaining, "deleting namespace content");
            for ar in &resources {
                let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, ar);
                match api
                    .delete_collection(&DeleteParams::default(), &ListParams::default())
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        return Err(
                            Error::on("deleting the content of namespace", name.clone())(e),
                        );
                    }
                }
            }
            // Pods on nodes take their grace period: look again shortly.
            Ok(Action::requeue(Duration::from_secs(2)))
        }
        Next::Finalize(rest) => {
            tracing::info!("namespace empty; finalizing");
            let mut body = (*ns).clone();
            body.spec.get_or_insert_with(Default::default).finalizers = Some(rest);
            let api: Api<Namespace> = Api::all(ctx.client.clone());
            match api
                .replace_subresource("finalize", &name, &PostParams::default(), &body)
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(Error::on("finalizing namespace", name)(e)),
            }
            Ok(Action::await_change())
        }
    }
}

/// Every namespaced resource the server lists and deletes, found through discovery as
/// upstream does (so custom kinds are emptied too).
async fn namespaced_resources(client: &Client) -> Result<Vec<ApiResource>, Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    Ok(discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .filter(|(_, caps)| {
            caps.scope == Scope::Namespaced
                && caps.supports_operation(verbs::LIST)
                && caps.supports_operation(verbs::DELETE)
        })
        .map(|(ar, _)| ar)
        .collect())
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NamespaceSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn ns(deleting: bool, finalizers: &[&str]) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some("team-a".into()),
                deletion_timestamp: deleting
                    .then_some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
                ..Default::default()
            },
            spec: Some(NamespaceSpec {
                finalizers: Some(finalizers.iter().map(|s| s.to_string()).collect()),
            }),
            status: None,
        }
    }

    #[test]
    fn a_live_namespace_is_left_alone() {
        assert_eq!(next(&ns(false, &["kubernetes"]), 5), Next::Nothing);
    }

    #[test]
    fn a_terminating_namespace_is_emptied_before_it_is_finalized() {
        assert_eq!(next(&ns(true, &["kubernetes"]), 3), Next::DeleteContent);
        assert_eq!(next(&ns(true, &["kubernetes"]), 0), Next::Finalize(vec![]));
    }

    #[test]
    fn finalizing_keeps_other_finalizers_and_skips_namespaces_already_finalized() {
        assert_eq!(
            next(&ns(true, &["example.com/x", "kubernetes"]), 0),
            Next::Finalize(vec!["example.com/x".into()])
        );
        assert_eq!(next(&ns(true, &["example.com/x"]), 0), Next::Nothing);
    }
}
