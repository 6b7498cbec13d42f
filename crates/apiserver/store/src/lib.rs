//! The lab API server's embedded store, free of HTTP.
//!
//! Objects are kept as JSON (`serde_json::Value`) keyed by [`ObjectKey`] (resource, namespace,
//! name). Every write takes the next value of one store-wide, monotonically increasing
//! `resourceVersion` — as etcd's revision does for the real API server — so a watch can resume
//! from any version still held in the bounded [`history`] and is told [`StoreError::Expired`]
//! (HTTP 410) when it is older than that.
//!
//! - [`store`]: create / update (optimistic concurrency) / delete (graceful, finalizers) / list.
//! - [`watch`]: replay from a resourceVersion, then live events, filtered per watcher.
//! - [`selector`]: label and field selectors as the API server parses them.
//! - per-object expiry ([`Options::expire_after`], [`Store::expire`]): Events' TTL.
//! - [`wal`]: the crash-safe on-disk form: an fsync'd append-only log compacted into an
//!   atomically replaced snapshot; `durable` batches the log's fsyncs (group commit) outside
//!   the store's lock, and watchers hear only of changes already on disk.
//!
//! Kind-specific rules (validation, which fields a status update may change, how long a pod's
//! grace period is) belong to the server; the store only offers the generic mechanisms.

mod durable;
pub mod error;
mod expiry;
pub mod history;
pub mod key;
pub mod meta;
pub mod selector;
pub mod store;
pub mod wal;
pub mod watch;

pub use error::StoreError;
pub use history::{Event, EventType};
pub use key::{ObjectKey, Resource};
pub use selector::{FieldSelector, Filter, LabelSelector};
pub use store::{DeleteOptions, Deleted, List, Options, Store};
pub use watch::{Watch, WatchStart};
