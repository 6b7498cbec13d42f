//! An event recorder, as client-go's `record.EventRecorder` + `EventBroadcaster`: components
//! say what happened to an object in upstream's words (`Scheduled`, `Started`, `Unhealthy`)
//! and the events reach the API as core/v1 Events, best-effort.
//!
//! ```no_run
//! # async fn f(client: kube::Client, pod: &k8s_openapi::api::core::v1::Pod) {
//! use podnet_k8s_events::{Broadcaster, EventType, Reference, Source};
//! let (broadcaster, recorder) = Broadcaster::new(client, Source::new("kubelet", Some("node-1")));
//! tokio::spawn(broadcaster.run());
//! recorder.event(&Reference::of(pod), EventType::Normal, "Started", "Started container web");
//! # }
//! ```
//!
//! - [`Recorder::event`] never blocks and never fails: events queue (bounded, as client-go's
//!   1000) and an event that finds the queue full is dropped with a log line.
//! - [`Broadcaster::run`] writes them: [`correlate`] turns a repeat into a PATCH of `count`
//!   and `lastTimestamp` of the first object, combines floods of similar events and rations
//!   each object's events; a write that fails is logged and dropped.
//! - Event names are `<object name>.<hex nanoseconds>` and cluster-scoped objects' events
//!   live in `default`, as upstream.

pub mod correlate;
mod reference;
mod sink;

pub use correlate::{Correlator, Write};
pub use reference::Reference;

use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use tokio::sync::mpsc;

/// Events waiting to be written before new ones are dropped (client-go's maxQueuedEvents).
const QUEUE: usize = 1000;

/// `Normal` or `Warning`, the two types upstream knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

/// Who reports: `source.component` (and `reportingComponent`), and the node
/// (`source.host`, `reportingInstance`) for node components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub component: String,
    pub host: Option<String>,
}

/// Hands events to the [`Broadcaster`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct Recorder {
    source: Source,
    queue: mpsc::Sender<Event>,
}

/// Writes what the recorders queue, through one [`Correlator`].
pub struct Broadcaster {
    client: Client,
    queue: mpsc::Receiver<Event>,
    correlator: Correlator,
}

// === impl EventType ===

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

// === impl Source ===

impl Source {
    pub fn new(component: &str, host: Option<&str>) -> Self {
        Source {
            component: component.into(),
            host: host.map(str::to_string),
        }
    }
}

// === impl Recorder ===

impl Recorder {
    /// Records that `reason` happened to `object`: never blocks, never fails.
    pub fn event(
        &self,
        object: &Reference,
        kind: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let event = self.make(object, kind, reason, message.into(), Timestamp::now());
        if let Err(error) = self.queue.try_send(event) {
            tracing::warn!(reason, object = %object.describe(), %error, "event dropped");
        }
    }

    /// The event as client-go's makeEvent builds it.
    fn make(
        &self,
        object: &Reference,
        kind: EventType,
        reason: &str,
        message: String,
        now: Timestamp,
    ) -> Event {
        let reference = &object.0;
        let name = reference.name.as_deref().unwrap_or("");
        let namespace = reference
            .namespace
            .as_deref()
            .filter(|ns| !ns.is_empty())
            .unwrap_or("default");
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.into()),
                ..Default::default()
            },
            involved_object: reference.clone(),
            reason: Some(reason.into()),
            message: Some(message),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            count: Some(1),
            type_: Some(kind.as_str().into()),
            source: Some(EventSource {
                component: Some(self.source.component.clone()),
                host: self.source.host.clone(),
            }),
            reporting_component: Some(self.source.component.clone()),
            reporting_instance: Some(self.source.host.clone().unwrap_or_default()),
            ..Default::default()
        }
    }
}

// === impl Broadcaster ===

impl Broadcaster {
    /// A broadcaster writing through `client`, and the recorder feeding it as `source`.
    pub fn new(client: Client, source: Source) -> (Broadcaster, Recorder) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let broadcaster = Broadcaster {
            client,
            queue: rx,
            correlator: Correlator::default(),
        };
        (broadcaster, Recorder { source, queue: tx })
    }

    /// Writes events until every [`Recorder`] is dropped.
    pub async fn run(mut self) {
        while let Some(event) = self.queue.recv().await {
            let Some(write) = self.correlator.correlate(event, Timestamp::now()) else {
                tracing::debug!("event dropped by the spam filter");
                continue;
            };
            sink::write(&self.client, write).await;
        }
    }
}
