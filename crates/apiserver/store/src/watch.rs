//! Watches: a cursor into the history, filtered to one resource, namespace and selection.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::history::{Event, EventType};
use crate::store::range;
use crate::{Filter, Resource, Store, StoreError};

/// Where a watch begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// Synthetic ADDED events for every object there now, then changes (no resourceVersion
    /// given, or "0").
    Current,
    /// Every change after this resourceVersion.
    After(u64),
}

/// A running watch. Events come out in resourceVersion order.
pub struct Watch {
    store: Store,
    resource: Resource,
    namespace: Option<String>,
    filter: Filter,
    cursor: u64,
    pending: VecDeque<Event>,
    /// How many of `pending` are the synthetic events of a `Current` start.
    initial: usize,
    changed: tokio::sync::watch::Receiver<u64>,
}

// === impl Store ===

impl Store {
    pub fn watch(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        filter: Filter,
        start: WatchStart,
    ) -> Result<Watch, StoreError> {
        let changed = self.shared.changed.subscribe();
        let inner = self.lock();
        let (cursor, pending) = match start {
            WatchStart::Current => {
                let pending = range(&inner.objects, resource, namespace)
                    .filter(|(_, obj)| filter.matches(obj))
                    .map(|(key, obj)| Event {
                        rv: inner.rv,
                        kind: EventType::Added,
                        key: key.clone(),
                        object: obj.clone(),
                        prev: None,
                    })
                    .collect();
                (inner.rv, pending)
            }
            WatchStart::After(rv) => {
                if rv < inner.history.floor() {
                    return Err(StoreError::Expired {
                        requested: rv,
                        oldest: inner.history.floor(),
                    });
                }
                (rv.min(inner.rv), VecDeque::new())
            }
        };
        drop(inner);
        let initial = pending.len();
        Ok(Watch {
            store: self.clone(),
            resource: resource.clone(),
            namespace: namespace.map(str::to_string),
            filter,
            cursor,
            pending,
            initial,
            changed,
        })
    }
}

// === impl Watch ===

impl Watch {
    /// The next event, waiting for one; `Expired` if the watch fell so far behind that the
    /// history no longer holds what it has not seen.
    pub async fn next(&mut self) -> Result<Event, StoreError> {
        loop {
            if let Some(event) = self.try_next()? {
                return Ok(event);
            }
            // The sender lives in the store this watch holds, so this cannot fail.
            let _ = self.changed.changed().await;
        }
    }

    /// The next event if one is ready.
    pub fn try_next(&mut self) -> Result<Option<Event>, StoreError> {
        if let Some(event) = self.pending.pop_front() {
            self.initial = self.initial.saturating_sub(1);
            return Ok(Some(event));
        }
        // Only changes already on disk are announced (see `durable.rs`).
        let durable = *self.changed.borrow_and_update();
        if durable <= self.cursor {
            return Ok(None);
        }
        let inner = self.store.lock();
        for event in inner.history.since(self.cursor)? {
            if event.rv > durable {
                break;
            }
            if let Some(event) = self.translate(event) {
                self.pending.push_back(event);
            }
        }
        self.cursor = durable;
        drop(inner);
        Ok(self.pending.pop_front())
    }

    /// Whether synthetic initial events (of a `Current` start) remain to be taken.
    pub fn initial_pending(&self) -> bool {
        self.initial > 0
    }

    /// The resourceVersion this watch has seen everything up to (for BOOKMARK events).
    pub fn resource_version(&self) -> u64 {
        self.pending.front().map_or(self.cursor, |e| e.rv - 1)
    }

    /// The event as this watcher sees it: an object that starts or stops matching the
    /// filter is ADDED or DELETED for it.
    fn translate(&self, event: &Event) -> Option<Event> {
        let key = &event.key;
        if key.resource != self.resource
            || self
                .namespace
                .as_ref()
                .is_some_and(|ns| *ns != key.namespace)
        {
            return None;
        }
        let now = self.filter.matches(&event.object);
        let before = event.prev.as_ref().is_some_and(|p| self.filter.matches(p));
        let (kind, object) = match (event.kind, before, now) {
            (EventType::Added, _, true) => (EventType::Added, event.object.clone()),
            (EventType::Modified, true, true) => (EventType::Modified, event.object.clone()),
            (EventType::Modified, false, true) => (EventType::Added, event.object.clone()),
            (EventType::Modified, true, false) => {
                // Like the API server's watch cache: the last matching state, at this version.
                let mut last = (**event.prev.as_ref().expect("matched above")).clone();
                crate::meta::metadata_mut(&mut last)
                    .insert("resourceVersion".into(), event.rv.to_string().into());
                (EventType::Deleted, Arc::new(last))
            }
            (EventType::Deleted, _, true) => (EventType::Deleted, event.object.clone()),
            _ => return None,
        };
        Some(Event {
            rv: event.rv,
            kind,
            key: key.clone(),
            object,
            prev: None,
        })
    }
}
