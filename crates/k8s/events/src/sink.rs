//! The writes themselves: a create, or a strategic-merge PATCH of the repeated event's
//! `count`, `lastTimestamp` and `message` (created again when it expired meanwhile), as
//! client-go's recordToSink. Failures are logged and dropped: events are best-effort.

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Error};
use serde_json::json;

use crate::Write;

pub(crate) async fn write(client: &Client, write: Write) {
    let (Write::Create(event) | Write::Patch(event)) = &write;
    let namespace = event.metadata.namespace.as_deref().unwrap_or("default");
    let name = event.metadata.name.clone().unwrap_or_default();
    let reason = event.reason.as_deref().unwrap_or("");
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let result = match &write {
        Write::Create(event) => create(&api, event).await,
        Write::Patch(event) => {
            let patch = json!({"count": event.count, "lastTimestamp": event.last_timestamp,
                "message": event.message});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                Err(Error::Api(status)) if status.code == 404 => create(&api, event).await,
                other => other.map(drop),
            }
        }
    };
    match result {
        Ok(()) => tracing::debug!(namespace, name, reason, "event written"),
        Err(error) => {
            tracing::warn!(namespace, name, reason, %error, "event dropped: writing it failed")
        }
    }
}

async fn create(api: &Api<Event>, event: &Event) -> Result<(), Error> {
    let mut event = event.clone();
    event.metadata.resource_version = None;
    api.create(&PostParams::default(), &event).await.map(drop)
}
