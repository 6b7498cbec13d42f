//! Group commit. A change is appended to the log under the store's lock but synced to disk
//! outside it: the writer then waits until a sync that started after its append has finished.
//! Writers that arrive while a sync is running wait for it and are covered by the next one
//! together, so N concurrent writes cost one or two fsyncs instead of N, and nobody who only
//! reads (gets, lists, watchers) ever waits behind an fsync.
//!
//! Watchers are told of a change only once it is durable, so no watch event can describe a
//! change that a crash would take back. (A get or list may see a change a moment before its
//! writer's acknowledgement: the object is in memory before the sync completes.)

use std::fs::File;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;

pub(crate) struct Durability {
    log: File,
    path: PathBuf,
    /// The resourceVersion of the last change appended to the log.
    appended: AtomicU64,
    /// The resourceVersion up to which the log is known to be on disk.
    synced: Mutex<u64>,
}

// === impl Durability ===

impl Durability {
    pub(crate) fn new(log: File, path: PathBuf, rv: u64) -> Self {
        Durability {
            log,
            path,
            appended: AtomicU64::new(rv),
            synced: Mutex::new(rv),
        }
    }

    /// Records that the change at `rv` has been written to the log (under the store's lock).
    pub(crate) fn appended(&self, rv: u64) {
        self.appended.store(rv, Ordering::Release);
    }

    /// Returns once every change up to `rv` is on disk, with the resourceVersion that is now
    /// durable (at least `rv`), or None when an earlier sync already covered it.
    pub(crate) fn wait(&self, rv: u64) -> Result<Option<u64>, StoreError> {
        let mut synced = self.synced.lock().unwrap_or_else(|p| p.into_inner());
        if *synced >= rv {
            return Ok(None);
        }
        // Everything appended before this load is covered by the sync below.
        let upto = self.appended.load(Ordering::Acquire);
        self.log
            .sync_data()
            .map_err(|e| StoreError::io(&self.path, e))?;
        *synced = upto.max(rv);
        Ok(Some(*synced))
    }
}
