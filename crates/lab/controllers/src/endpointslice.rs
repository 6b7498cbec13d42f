//! The EndpointSlice controller, as upstream's: each Service with a selector gets slices
//! listing its pods.
//!
//! - [`endpoint`]: one pod as an endpoint (conditions, hostname, ports); [`plan`]: the slices
//!   of one Service (pure).
//! - This file: the loop (kube-rs `Controller` over Services, owning EndpointSlices and
//!   watching Pods, mapped to the Services that select them).

pub mod endpoint;
pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, is_not_found};
use crate::reconciler;
use crate::selector;
use plan::{LABEL_MANAGED_BY, LABEL_SERVICE_NAME, MANAGED_BY};

struct Ctx {
    client: Client,
}

/// Runs the EndpointSlice controller until `shutdown`.
pub async fn run(client: Client, shutdown: CancellationToken) -> Result<(), Error> {
    let services: Api<Service> = Api::all(client.clone());
    let controller = Controller::new(services, watcher::Config::default());
    let store = controller.store();
    let managed = format!("{LABEL_MANAGED_BY}={MANAGED_BY}");
    // A pod is mapped to the Services that select it now; one that stopped matching is
    // caught by the periodic resync (upstream compares old and new labels instead).
    let resync = tokio_stream_interval(Duration::from_secs(30));
    let controller = controller
        .owns(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default().labels(&managed),
        )
        .watches(
            Api::<Pod>::all(client.clone()),
            watcher::Config::default(),
            move |pod: Pod| {
                store
                    .state()
                    .into_iter()
                    .filter(|svc| svc.namespace() == pod.namespace())
                    .filter(|svc| {
                        let sel = svc
                            .spec
                            .as_ref()
                            .and_then(|s| s.selector.clone())
                            .unwrap_or_default();
                        selector::map_matches(&sel, pod.labels())
                    })
                    .map(|svc| ObjectRef::from_obj(&*svc))
                    .collect::<Vec<_>>()
            },
        )
        .reconcile_all_on(resync);
    reconciler::drive(
        controller,
        shutdown,
        reconcile,
        Arc::new(Ctx { client }),
        Duration::from_secs(1),
    )
    .await;
    Ok(())
}

fn tokio_stream_interval(period: Duration) -> impl futures::Stream<Item = ()> + Send {
    futures::stream::unfold(tokio::time::interval(period), |mut i| async move {
        i.tick().await;
        Some(((), i))
    })
}

#[tracing::instrument(skip_all, fields(service = %svc.name_any(), namespace = svc.namespace().as_deref().unwrap_or("")))]
async fn reconcile(svc: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    let ns = svc.namespace().unwrap_or_default();
    let slices_api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let spec = svc.spec.as_ref();
    let sel = spec.and_then(|s| s.selector.clone()).unwrap_or_default();
    // Services without a selector are not this controller's (their slices are the user's).
    if sel.is_empty() || svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let mine = format!(
        "{LABEL_SERVICE_NAME}={},{LABEL_MANAGED_BY}={MANAGED_BY}",
        svc.name_any()
    );
    let existing = slices_api
        .list(&ListParams::default().labels(&mine))
        .await?
        .items;
    let step = if spec.and_then(|s| s.type_.as_deref()) == Some("ExternalName") {
        plan::Plan {
            delete: existing,
            ..Default::default()
        }
    } else {
        let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        let pods = pods_api
            .list(&ListParams::default().labels(&selector::map_to_query(&sel)))
            .await?
            .items;
        plan::plan(&svc, &pods, &existing)
    };
    if step.is_empty() {
        return Ok(Action::await_change());
    }
    tracing::info!(
        create = step.create.len(),
        update = step.update.len(),
        delete = step.delete.len(),
        "syncing slices"
    );
    for s in &step.create {
        slices_api
            .create(&PostParams::default(), s)
            .await
            .map_err(Error::on(
                "creating an EndpointSlice for service",
                svc.name_any(),
            ))?;
    }
    for s in &step.update {
        // Replace with the resourceVersion read above: a concurrent writer makes this a 409
        // and the retry starts from fresh state.
        slices_api
            .replace(&s.name_any(), &PostParams::default(), s)
            .await
            .map_err(Error::on("updating EndpointSlice", s.name_any()))?;
    }
    for s in &step.delete {
        match slices_api
            .delete(&s.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(Error::on("deleting EndpointSlice", s.name_any())(e)),
        }
    }
    Ok(Action::await_change())
}
