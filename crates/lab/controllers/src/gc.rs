//! Garbage collection of dependents whose controller owner is gone: the ReplicaSets of a
//! deleted Deployment, the pods of a deleted ReplicaSet or DaemonSet (and its
//! ControllerRevisions), the Jobs of a deleted CronJob, the EndpointSlices of a deleted
//! Service (`kubectl delete` asks for background propagation, which upstream's garbage
//! collector carries out).
//!
//! Candidates come from reflector caches; before a dependent is deleted its owner is read
//! from the API, as upstream does, because a cache can lag behind an owner just created.

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::DeleteParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_not_found};

/// A dependent whose controller owner looks gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub namespace: String,
    pub name: String,
    pub owner_name: String,
    pub owner_uid: String,
}

/// Dependents controlled by a `owner_kind` whose uid is not among `live`.
pub fn orphans<K: ResourceExt>(
    dependents: &[K],
    owner_kind: &str,
    live: &HashSet<String>,
) -> Vec<Orphan> {
    dependents
        .iter()
        .filter(|d| d.meta().deletion_timestamp.is_none())
        .filter_map(|d| {
            let owner = d
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true) && o.kind == owner_kind)?;
            (!live.contains(&owner.uid)).then(|| Orphan {
                namespace: d.namespace().unwrap_or_default(),
                name: d.name_any(),
                owner_name: owner.name.clone(),
                owner_uid: owner.uid.clone(),
            })
        })
        .collect()
}

fn watched<K>(client: &Client) -> (Store<K>, futures::stream::BoxStream<'static, ()>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store::<K>();
    let events = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects()
    .map(|_| ())
    .boxed();
    (store, events)
}

/// Collects until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let (deployments, a) = watched::<Deployment>(&client);
    let (services, b) = watched::<Service>(&client);
    let (pods, c) = watched::<Pod>(&client);
    let (slices, d) = watched::<EndpointSlice>(&client);
    let (replica_sets, e) = watched::<ReplicaSet>(&client);
    let (daemon_sets, f) = watched::<DaemonSet>(&client);
    let (revisions, g) = watched::<ControllerRevision>(&client);
    let (stateful_sets, h) = watched::<StatefulSet>(&client);
    let (jobs, i) = watched::<Job>(&client);
    let (cron_jobs, j) = watched::<CronJob>(&client);
    let mut events = futures::stream::select_all([a, b, c, d, e, f, g, h, i, j]);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            ev = events.next() => {
                if ev.is_none() {
                    return Err(Error::Stopped { controller: "garbage collector", reason: "watch ended".into() });
                }
            }
        }
        while let Some(Some(_)) = events.next().now_or_never() {}
        // Let a burst of deletions settle into the caches before looking.
        tokio::time::sleep(Duration::from_millis(100)).await;
        while let Some(Some(_)) = events.next().now_or_never() {}
        let ready = [
            deployments.wait_until_ready().now_or_never(),
            services.wait_until_ready().now_or_never(),
        ]
        .into_iter()
        .chain([
            pods.wait_until_ready().now_or_never(),
            slices.wait_until_ready().now_or_never(),
            replica_sets.wait_until_ready().now_or_never(),
            daemon_sets.wait_until_ready().now_or_never(),
            revisions.wait_until_ready().now_or_never(),
            stateful_sets.wait_until_ready().now_or_never(),
            jobs.wait_until_ready().now_or_never(),
            cron_jobs.wait_until_ready().now_or_never(),
        ])
        .all(|r| matches!(r, Some(Ok(()))));
        if !ready {
            continue;
        }
        collect::<ReplicaSet, Deployment>(&client, &replica_sets, &deployments).await;
        collect::<Pod, ReplicaSet>(&client, &pods, &replica_sets).await;
        collect::<Pod, DaemonSet>(&client, &pods, &daemon_sets).await;
        collect::<ControllerRevision, DaemonSet>(&client, &revisions, &daemon_sets).await;
        collect::<Pod, StatefulSet>(&client, &pods, &stateful_sets).await;
        collect::<ControllerRevision, StatefulSet>(&client, &revisions, &stateful_sets).await;
        collect::<Pod, Job>(&client, &pods, &jobs).await;
        collect::<Job, CronJob>(&client, &jobs, &cron_jobs).await;
        collect::<EndpointSlice, Service>(&client, &slices, &services).await;
    }
}

async fn collect<Dep, Owner>(client: &Client, dependents: &Store<Dep>, owners: &Store<Owner>)
where
    Dep: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
    Owner: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let live: HashSet<String> = owners.state().iter().filter_map(|o| o.uid()).collect();
    let deps: Vec<Dep> = dependents.state().iter().map(|d| (**d).clone()).collect();
    for orphan in orphans(&deps, &Owner::kind(&()), &live) {
        if let Err(error) = delete_if_orphaned::<Dep, Owner>(client, &orphan).await {
            tracing::warn!(%error, dependent = %orphan.name, "garbage collection");
        }
    }
}

async fn delete_if_orphaned<Dep, Owner>(client: &Client, o: &Orphan) -> Result<(), Error>
where
    Dep: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    Owner: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let owners: Api<Owner> = Api::namespaced(client.clone(), &o.namespace);
    match owners.get_opt(&o.owner_name).await? {
        Some(owner) if owner.uid().as_deref() == Some(o.owner_uid.as_str()) => return Ok(()),
        _ => {}
    }
    tracing::info!(namespace = %o.namespace, dependent = %o.name, owner = %o.owner_name, "owner gone; deleting");
    let api: Api<Dep> = Api::namespaced(client.clone(), &o.namespace);
    match api.delete(&o.name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(Error::on("collecting", o.name.clone())(e)),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    use super::*;

    fn pod(name: &str, owner_uid: Option<&str>, controller: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                owner_references: owner_uid.map(|uid| {
                    vec![OwnerReference {
                        kind: "Deployment".into(),
                        name: "web".into(),
                        uid: uid.into(),
                        controller: Some(controller),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn only_pods_whose_controlling_deployment_is_gone_are_orphans() {
        let live: HashSet<String> = ["alive".to_string()].into();
        let pods = vec![
            pod("kept", Some("alive"), true),
            pod("orphan", Some("gone"), true),
            pod("not-controller", Some("gone"), false),
            pod("bare", None, false),
        ];
        let got: Vec<String> = orphans(&pods, "Deployment", &live)
            .into_iter()
            .map(|o| o.name)
            .collect();
        assert_eq!(got, ["orphan"]);
        assert!(
            orphans(&pods, "Service", &live).is_empty(),
            "another owner kind"
        );
    }
}
