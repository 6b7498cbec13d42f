//! The store itself: one lock over the objects, the history and the log.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value;
use tokio::sync::watch;

use crate::durable::Durability;
use crate::expiry::Expiry;
use crate::history::{Event, EventType, History};
use crate::wal::{Objects, Wal};
use crate::{Filter, ObjectKey, Resource, StoreError, meta};

/// Tuning knobs; the defaults suit a lab.
#[derive(Clone, Debug)]
pub struct Options {
    /// How many recent events a watch can resume across.
    pub history: usize,
    /// Log records after which the log is folded into a new snapshot.
    pub compact_after: usize,
    /// Kind-specific finalization beyond `metadata.finalizers` (a namespace's
    /// `spec.finalizers`): while it says an object is held, a terminating object stays.
    pub held: fn(&ObjectKey, &Value) -> bool,
    /// Resources whose objects are removed (with a DELETED event) this long after their
    /// last write; see [`Store::expire`].
    pub expire_after: Vec<(Resource, Duration)>,
}

/// A cheap handle: clones share one store.
#[derive(Clone)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) inner: Mutex<Inner>,
    /// Carries the latest durable resourceVersion; watchers wait on it.
    pub(crate) changed: watch::Sender<u64>,
    durability: Durability,
    options: Options,
}

pub(crate) struct Inner {
    pub(crate) objects: Objects,
    pub(crate) rv: u64,
    pub(crate) history: History,
    wal: Wal,
    expiry: Expiry,
}

/// A list result: the items and the resourceVersion they are consistent at.
#[derive(Debug)]
pub struct List {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
}

/// What the server decided about a deletion: the grace period (pods) and preconditions.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// Seconds the object stays, terminating, before it may be removed; `None` or 0: now.
    pub grace_period_seconds: Option<i64>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    /// What else changes when the object is marked terminating (a namespace's
    /// `status.phase`), in the same write.
    pub mark: Option<fn(&mut Value)>,
}

/// The outcome of a delete.
#[derive(Debug)]
pub enum Deleted {
    /// Gone from the store (a DELETED event was sent).
    Removed(Arc<Value>),
    /// Still there with a `deletionTimestamp`, waiting for its finalizers or its grace period.
    Terminating(Arc<Value>),
}

const NAME_SUFFIX_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Default for Options {
    fn default() -> Self {
        Options {
            history: 10_000,
            compact_after: 10_000,
            held: |_, _| false,
            expire_after: Vec::new(),
        }
    }
}

// === impl Store ===

impl Store {
    /// Opens (or creates) the store in `dir`, recovering whatever a previous run left there.
    pub fn open(dir: &Path, options: Options) -> Result<Store, StoreError> {
        let (wal, recovered) = Wal::open(dir)?;
        let mut history = History::new(options.history, recovered.snapshot_rv);
        for event in recovered.events {
            history.push(event);
        }
        tracing::info!(
            dir = %dir.display(),
            objects = recovered.objects.len(),
            resource_version = recovered.rv,
            "opened the store"
        );
        let (changed, _) = watch::channel(recovered.rv);
        let (log, log_path) = wal.syncer()?;
        let durability = Durability::new(log, log_path, recovered.rv);
        let mut expiry = Expiry::new(options.expire_after.clone());
        let now = Instant::now();
        for key in recovered.objects.keys() {
            expiry.touch(key, now);
        }
        let inner = Inner {
            objects: recovered.objects,
            rv: recovered.rv,
            history,
            wal,
            expiry,
        };
        Ok(Store {
            shared: Arc::new(Shared {
                inner: Mutex::new(inner),
                changed,
                durability,
                options,
            }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (writes are applied after
        // the log append succeeds), so a poisoned lock is still usable.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The store's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, key: &ObjectKey) -> Result<Arc<Value>, StoreError> {
        self.lock()
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })
    }

    /// Objects of `resource` (in `namespace`, or all namespaces) that pass `filter`.
    pub fn list(&self, resource: &Resource, namespace: Option<&str>, filter: &Filter) -> List {
        let inner = self.lock();
        let items = range(&inner.objects, resource, namespace)
            .filter(|(_, obj)| filter.matches(obj))
            .map(|(_, obj)| obj.clone())
            .collect();
        List {
            items,
            resource_version: inner.rv,
        }
    }

    /// Stores a new object, filling in the name (from `generateName`), uid (unless given),
    /// creationTimestamp, generation and resourceVersion.
    pub fn create(
        &self,
        resource: &Resource,
        namespace: &str,
        mut obj: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let given = meta::name(&obj).to_string();
        let generate = meta::str_field(&obj, "generateName")
            .unwrap_or("")
            .to_string();
        let key = if !given.is_empty() {
            let key = resource.key(namespace, &given);
            if inner.objects.contains_key(&key) {
                return Err(StoreError::AlreadyExists { key });
            }
            key
        } else if !generate.is_empty() {
            // Like the API server, try a few random suffixes before giving up.
            (0..8)
                .map(|_| resource.key(namespace, &format!("{generate}{}", random_suffix())))
                .find(|key| !inner.objects.contains_key(key))
                .ok_or_else(|| StoreError::AlreadyExists {
                    key: resource.key(namespace, &generate),
                })?
        } else {
            return Err(StoreError::NameRequired);
        };
        let rv = inner.rv + 1;
        let m = meta::metadata_mut(&mut obj);
        m.insert("name".into(), key.name.clone().into());
        if namespace.is_empty() {
            m.remove("namespace");
        } else {
            m.insert("namespace".into(), namespace.into());
        }
        // A uid the server's create strategy chose is kept (a Job's generated selector
        // names it); clients' uids never reach here.
        m.entry("uid").or_insert_with(|| new_uid().into());
        m.insert(
            "creationTimestamp".into(),
            meta::timestamp(meta::now()).into(),
        );
        m.insert("resourceVersion".into(), rv.to_string().into());
        m.insert("generation".into(), 1.into());
        m.remove("deletionTimestamp");
        m.remove("deletionGracePeriodSeconds");
        let object = Arc::new(obj);
        self.commit(&mut inner, key, EventType::Added, object.clone(), None)?;
        self.durable(inner)?;
        Ok(object)
    }

    /// Replaces an object with what `change` makes of the current one, atomically.
    ///
    /// A `metadata.resourceVersion` in the result is a precondition (409 Conflict when it is
    /// not the current one); system fields (uid, creationTimestamp, deletionTimestamp) are
    /// kept; `generation` goes up when anything outside metadata and status changed; an
    /// unchanged object is not written. An object that is terminating, has no finalizers left
    /// and no grace period pending is removed instead.
    pub fn update_with<E: From<StoreError>>(
        &self,
        key: &ObjectKey,
        change: impl FnOnce(&Arc<Value>) -> Result<Value, E>,
    ) -> Result<Arc<Value>, E> {
        let mut inner = self.lock();
        let current = inner
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
        let new = change(&current)?;
        let stored = self.write_update(&mut inner, key, &current, new)?;
        self.durable(inner)?;
        Ok(stored)
    }

    /// A plain update: `obj` replaces the stored object (see [`Store::update_with`]).
    pub fn update(&self, key: &ObjectKey, obj: Value) -> Result<Arc<Value>, StoreError> {
        self.update_with(key, |_| Ok(obj))
    }

    fn write_update(
        &self,
        inner: &mut Inner,
        key: &ObjectKey,
        current: &Arc<Value>,
        mut new: Value,
    ) -> Result<Arc<Value>, StoreError> {
        let current_rv = meta::str_field(current, "resourceVersion").unwrap_or("");
        if let Some(wanted) = meta::str_field(&new, "resourceVersion")
            && !wanted.is_empty()
            && wanted != current_rv
        {
            return Err(StoreError::Conflict {
                key: key.clone(),
                message: "the object has been modified; please apply your changes to the \
                          latest version and try again"
                    .into(),
            });
        }
        let current_meta = meta::metadata(current).cloned().unwrap_or_default();
        let m = meta::metadata_mut(&mut new);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match current_meta.get(field) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        m.insert("resourceVersion".into(), current_rv.into());
        if new == **current {
            return Ok(current.clone());
        }
        if spec_of(&new) != spec_of(current) {
            let generation = current_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta::metadata_mut(&mut new).insert("generation".into(), (generation + 1).into());
        }
        let rv = inner.rv + 1;
        meta::metadata_mut(&mut new).insert("resourceVersion".into(), rv.to_string().into());
        let grace_pending = meta::metadata(&new)
            .and_then(|m| m.get("deletionGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .is_some_and(|g| g > 0);
        let kind = if meta::is_terminating(&new) && !self.is_held(key, &new) && !grace_pending {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        let object = Arc::new(new);
        self.commit(
            inner,
            key.clone(),
            kind,
            object.clone(),
            Some(current.clone()),
        )?;
        Ok(object)
    }

    /// Deletes an object: at once, or — when it has finalizers or a grace period — by
    /// marking it terminating. Deleting a terminating object again may shorten its grace
    /// period; with grace 0 and no finalizers it is removed.
    pub fn delete(&self, key: &ObjectKey, options: &DeleteOptions) -> Result<Deleted, StoreError> {
        let mut inner = self.lock();
        let deleted = self.delete_locked(&mut inner, key, options)?;
        self.durable(inner)?;
        Ok(deleted)
    }

    fn delete_locked(
        &self,
        inner: &mut Inner,
        key: &ObjectKey,
        options: &DeleteOptions,
    ) -> Result<Deleted, StoreError> {
        let current = inner
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })?;
        check_preconditions(key, &current, options)?;
        let grace = options.grace_period_seconds.unwrap_or(0).max(0);
        let held = self.is_held(key, &current);
        let now = meta::now();
        let mut marked = (*current).clone();
        if meta::is_terminating(&current) {
            let pending = meta::metadata(&current)
                .and_then(|m| m.get("deletionGracePeriodSeconds"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if grace >= pending {
                return Ok(Deleted::Terminating(current));
            }
        } else if grace == 0 && !held {
            let rv = inner.rv + 1;
            meta::metadata_mut(&mut marked).insert("resourceVersion".into(), rv.to_string().into());
            let object = Arc::new(marked);
            self.commit(
                inner,
                key.clone(),
                EventType::Deleted,
                object.clone(),
                Some(current),
            )?;
            return Ok(Deleted::Removed(object));
        }
        let m = meta::metadata_mut(&mut marked);
        let at = now
            .checked_add(jiff::SignedDuration::from_secs(grace))
            .unwrap_or(now);
        m.insert("deletionTimestamp".into(), meta::timestamp(at).into());
        m.insert("deletionGracePeriodSeconds".into(), grace.into());
        let rv = inner.rv + 1;
        m.insert("resourceVersion".into(), rv.to_string().into());
        if let Some(mark) = options.mark {
            mark(&mut marked);
        }
        let kind = if grace == 0 && !held {
            EventType::Deleted
        } else {
            EventType::Modified
        };
        let object = Arc::new(marked);
        self.commit(inner, key.clone(), kind, object.clone(), Some(current))?;
        Ok(match kind {
            EventType::Deleted => Deleted::Removed(object),
            _ => Deleted::Terminating(object),
        })
    }

    /// Removes the objects whose time ran out by `now` (see [`Options::expire_after`]), each
    /// with a DELETED event, as etcd does when a lease expires; returns how many went.
    pub fn expire(&self, now: Instant) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let due = inner.expiry.due(now);
        for key in &due {
            let Some(current) = inner.objects.get(key).cloned() else {
                inner.expiry.forget(key);
                continue;
            };
            let mut last = (*current).clone();
            let rv = inner.rv + 1;
            meta::metadata_mut(&mut last).insert("resourceVersion".into(), rv.to_string().into());
            self.commit(
                &mut inner,
                key.clone(),
                EventType::Deleted,
                Arc::new(last),
                Some(current),
            )?;
        }
        self.durable(inner)?;
        Ok(due.len())
    }

    /// When the next object expires, if any does.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.lock().expiry.next()
    }

    /// Finalizers (or the kind's own finalization) keep the object while it terminates.
    fn is_held(&self, key: &ObjectKey, obj: &Value) -> bool {
        meta::finalizers(obj) > 0 || (self.shared.options.held)(key, obj)
    }

    /// Releases the lock, waits until the changes made under it are on disk, then wakes the
    /// watchers up to what is durable (see `durable.rs`).
    fn durable(&self, inner: MutexGuard<'_, Inner>) -> Result<(), StoreError> {
        let rv = inner.rv;
        drop(inner);
        if let Some(durable) = self.shared.durability.wait(rv)? {
            self.shared.changed.send_if_modified(|announced| {
                let newer = durable > *announced;
                *announced = (*announced).max(durable);
                newer
            });
        }
        Ok(())
    }

    /// Logs the change and applies it to the objects and the history; watchers hear of it
    /// once [`Store::durable`] has synced the log.
    fn commit(
        &self,
        inner: &mut Inner,
        key: ObjectKey,
        kind: EventType,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) -> Result<(), StoreError> {
        let rv = inner.rv + 1;
        let event = Event {
            rv,
            kind,
            key,
            object,
            prev,
        };
        inner.wal.append(&event)?;
        self.shared.durability.appended(rv);
        inner.rv = rv;
        if kind == EventType::Deleted {
            inner.objects.remove(&event.key);
            inner.expiry.forget(&event.key);
        } else {
            inner
                .objects
                .insert(event.key.clone(), event.object.clone());
            inner.expiry.touch(&event.key, Instant::now());
        }
        inner.history.push(event);
        if inner.wal.records() >= self.shared.options.compact_after {
            let Inner { wal, objects, .. } = inner;
            if let Err(error) = wal.compact(rv, objects) {
                // The log still holds everything: compaction can wait for the next write.
                tracing::warn!(%error, "store compaction failed");
            }
        }
        Ok(())
    }
}

/// The objects of one resource (and namespace), in key order.
pub(crate) fn range<'a>(
    objects: &'a Objects,
    resource: &'a Resource,
    namespace: Option<&'a str>,
) -> impl Iterator<Item = (&'a ObjectKey, &'a Arc<Value>)> {
    let start = resource.key(namespace.unwrap_or(""), "");
    objects.range(start..).take_while(move |(k, _)| {
        k.resource == *resource && namespace.is_none_or(|ns| k.namespace == ns)
    })
}

fn check_preconditions(
    key: &ObjectKey,
    current: &Value,
    options: &DeleteOptions,
) -> Result<(), StoreError> {
    for (field, wanted) in [
        ("uid", &options.uid),
        ("resourceVersion", &options.resource_version),
    ] {
        let actual = meta::str_field(current, field).unwrap_or("");
        if let Some(wanted) = wanted
            && wanted != actual
        {
            return Err(StoreError::Conflict {
                key: key.clone(),
                message: format!(
                    "Precondition failed: {field} in precondition: {wanted}, {field} in \
                     object meta: {actual}"
                ),
            });
        }
    }
    Ok(())
}

/// Everything but metadata and status: what `generation` counts changes of.
fn spec_of(obj: &Value) -> Vec<(&String, &Value)> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                .collect()
        })
        .unwrap_or_default()
}

fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| NAME_SUFFIX_CHARS[rng.random_range(0..NAME_SUFFIX_CHARS.len())] as char)
        .collect()
}

/// A fresh object uid (a version-4 UUID).
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    // A version-4 UUID: set the version and variant bits.
    let hex: String = b
        .iter()
        .enumerate()
        .map(|(i, byte)| match i {
            6 => (byte & 0x0f) | 0x40,
            8 => (byte & 0x3f) | 0x80,
            _ => *byte,
        })
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
