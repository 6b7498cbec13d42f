//! Pod create→Ready as a watcher sees it. The API's timestamps (creationTimestamp, a
//! condition's lastTransitionTime) have whole-second precision, as in Kubernetes, which is
//! too coarse for pods that start in tens of milliseconds; so the bench watches pods itself
//! and takes the moment an event arrives.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

type Events = Pin<Box<dyn Stream<Item = kube::Result<WatchEvent<Pod>>> + Send>>;

/// A watch on pods that started while there were none, so every pod's creation is seen.
pub struct PodWatch {
    api: Api<Pod>,
    version: String,
    events: Events,
}

/// When each pod was first seen, and first seen Ready.
#[derive(Debug, Default)]
pub struct Timeline {
    pub created: HashMap<String, Instant>,
    pub ready: HashMap<String, Instant>,
}

// === impl PodWatch ===

impl PodWatch {
    /// Lists `api` and watches from there; fails if a pod already exists (its creation
    /// happened before the watch, so it could not be timed) or if the API does not answer.
    pub async fn start(api: Api<Pod>) -> Result<Self, String> {
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing pods: {e}"))?;
        if let Some(p) = list.items.first() {
            return Err(format!(
                "pod {:?} existed before the watch started: its creation cannot be timed",
                p.metadata.name
            ));
        }
        let version = list.metadata.resource_version.unwrap_or_default();
        let events = open(&api, &version).await?;
        Ok(PodWatch {
            api,
            version,
            events,
        })
    }

    /// Until `want` pods have been Ready, or `timeout`.
    pub async fn until_ready(mut self, want: usize, timeout: Duration) -> Result<Timeline, String> {
        let deadline = Instant::now() + timeout;
        let mut t = Timeline::default();
        while t.ready.len() < want {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match tokio::time::timeout(left, self.events.next()).await {
                Err(_) => {
                    return Err(format!(
                        "only {} of {want} pods Ready after {timeout:?} ({} seen)",
                        t.ready.len(),
                        t.created.len()
                    ));
                }
                // The server ended the watch (its timeout): resume where it stopped.
                Ok(None) => {
                    self.events = open(&self.api, &self.version).await?;
                    continue;
                }
                Ok(Some(e)) => e.map_err(|e| format!("watching pods: {e}"))?,
            };
            let now = Instant::now();
            let pod = match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => p,
                WatchEvent::Bookmark(b) => {
                    self.version = b.metadata.resource_version;
                    continue;
                }
                WatchEvent::Deleted(_) => continue,
                WatchEvent::Error(e) => return Err(format!("watching pods: {e:?}")),
            };
            if let Some(v) = &pod.metadata.resource_version {
                self.version.clone_from(v);
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            t.created.entry(name.clone()).or_insert(now);
            if is_ready(&pod) {
                t.ready.entry(name).or_insert(now);
            }
        }
        Ok(t)
    }
}

async fn open(api: &Api<Pod>, version: &str) -> Result<Events, String> {
    let events = api
        .watch(&WatchParams::default(), version)
        .await
        .map_err(|e| format!("watching pods from {version}: {e}"))?;
    Ok(events.boxed())
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

// === impl Timeline ===

impl Timeline {
    /// create→Ready of every pod.
    pub fn latencies(&self) -> Vec<Duration> {
        self.ready
            .iter()
            .map(|(name, ready)| *ready - self.created[name])
            .collect()
    }

    /// From the first pod created to the last one Ready.
    pub fn span(&self) -> Duration {
        let first = self.created.values().min().copied();
        let last = self.ready.values().max().copied();
        match (first, last) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        }
    }
}
