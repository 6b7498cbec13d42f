//! The on-disk form of the store, in its state directory:
//!
//! - `snapshot.json`: every object at one resourceVersion, replaced atomically (written to a
//!   temporary file, fsync'd, renamed, directory fsync'd);
//! - `wal.log`: every change since, one framed record each (`len: u32 LE`, `crc32: u32 LE`,
//!   JSON), fsync'd before the change is acknowledged.
//!
//! Recovery loads the snapshot and replays the log's records above its resourceVersion. A torn
//! or corrupt tail (a crash mid-append) is cut off: its change was never acknowledged.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::{Event, EventType};
use crate::{ObjectKey, Resource, StoreError};

const SNAPSHOT: &str = "snapshot.json";
const LOG: &str = "wal.log";

pub type Objects = BTreeMap<ObjectKey, Arc<Value>>;

/// The appending side of the log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    file: File,
    records: usize,
}

/// What [`Wal::open`] found on disk.
#[derive(Debug, Default)]
pub struct Recovered {
    pub snapshot_rv: u64,
    pub rv: u64,
    pub objects: Objects,
    /// The log's changes, in order, to seed the watch history.
    pub events: Vec<Event>,
}

#[derive(Serialize, Deserialize)]
struct Record<'a> {
    rv: u64,
    #[serde(rename = "type")]
    kind: EventType,
    resource: std::borrow::Cow<'a, Resource>,
    namespace: std::borrow::Cow<'a, str>,
    name: std::borrow::Cow<'a, str>,
    object: std::borrow::Cow<'a, Value>,
}

#[derive(Serialize, Deserialize)]
struct Snapshot<'a> {
    #[serde(rename = "resourceVersion")]
    rv: u64,
    objects: Vec<Record<'a>>,
}

// === impl Wal ===

impl Wal {
    pub fn open(dir: &Path) -> Result<(Wal, Recovered), StoreError> {
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let mut recovered = load_snapshot(dir)?;
        let log_path = dir.join(LOG);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| StoreError::io(&log_path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io(&log_path, e))?;
        let (records, valid_len) = replay(&bytes, &mut recovered);
        if valid_len < bytes.len() {
            tracing::warn!(
                path = %log_path.display(),
                dropped_bytes = bytes.len() - valid_len,
                "cutting a torn tail off the store log"
            );
            file.set_len(valid_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| StoreError::io(&log_path, e))?;
        }
        let wal = Wal {
            dir: dir.to_path_buf(),
            file,
            records,
        };
        Ok((wal, recovered))
    }

    /// Appends one change to the log; it is durable once [`Wal::syncer`]'s handle has synced
    /// after this returns (the store batches those syncs: see `durable.rs`).
    pub fn append(&mut self, event: &Event) -> Result<(), StoreError> {
        let record = Record {
            rv: event.rv,
            kind: event.kind,
            resource: std::borrow::Cow::Borrowed(&event.key.resource),
            namespace: std::borrow::Cow::Borrowed(&event.key.namespace),
            name: std::borrow::Cow::Borrowed(&event.key.name),
            object: std::borrow::Cow::Borrowed(&event.object),
        };
        let payload = serde_json::to_vec(&record).expect("JSON values always serialize");
        let mut frame = Vec::with_capacity(payload.len() + 8);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        frame.extend_from_slice(&payload);
        let path = self.dir.join(LOG);
        self.file
            .write_all(&frame)
            .map_err(|e| StoreError::io(&path, e))?;
        self.records += 1;
        Ok(())
    }

    /// A second handle on the log file, to sync it without holding the store's lock (a sync
    /// through any handle covers every write made to the file before it).
    pub fn syncer(&self) -> Result<(File, PathBuf), StoreError> {
        let path = self.dir.join(LOG);
        let file = self
            .file
            .try_clone()
            .map_err(|e| StoreError::io(&path, e))?;
        Ok((file, path))
    }

    pub fn records(&self) -> usize {
        self.records
    }

    /// Writes every object as the new snapshot, then empties the log. A crash between the two
    /// leaves records at or below the snapshot's version, which recovery skips.
    pub fn compact(&mut self, rv: u64, objects: &Objects) -> Result<(), StoreError> {
        let snapshot = Snapshot {
            rv,
            objects: objects
                .iter()
                .map(|(key, object)| Record {
                    rv,
                    kind: EventType::Added,
                    resource: std::borrow::Cow::Borrowed(&key.resource),
                    namespace: std::borrow::Cow::Borrowed(&key.namespace),
                    name: std::borrow::Cow::Borrowed(&key.name),
                    object: std::borrow::Cow::Borrowed(object.as_ref()),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&snapshot).expect("JSON values always serialize");
        write_atomically(&self.dir, SNAPSHOT, &bytes)?;
        let path = self.dir.join(LOG);
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| StoreError::io(&path, e))?;
        self.records = 0;
        tracing::debug!(rv, objects = objects.len(), "compacted the store log");
        Ok(())
    }
}

fn load_snapshot(dir: &Path) -> Result<Recovered, StoreError> {
    let path = dir.join(SNAPSHOT);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Recovered::default()),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    let snapshot: Snapshot<'static> =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
    let objects = snapshot
        .objects
        .into_iter()
        .map(|r| {
            let key = ObjectKey {
                resource: r.resource.into_owned(),
                namespace: r.namespace.into_owned(),
                name: r.name.into_owned(),
            };
            (key, Arc::new(r.object.into_owned()))
        })
        .collect();
    Ok(Recovered {
        snapshot_rv: snapshot.rv,
        rv: snapshot.rv,
        objects,
        events: Vec::new(),
    })
}

/// Applies the log's intact records; returns how many there were and where the intact
/// prefix ends.
fn replay(bytes: &[u8], state: &mut Recovered) -> (usize, usize) {
    let mut pos = 0;
    let mut records = 0;
    while let Some(header) = bytes.get(pos..pos + 8) {
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice::<Record<'static>>(payload) else {
            break;
        };
        pos += 8 + len;
        records += 1;
        if record.rv <= state.rv {
            continue;
        }
        let key = ObjectKey {
            resource: record.resource.into_owned(),
            namespace: record.namespace.into_owned(),
            name: record.name.into_owned(),
        };
        let object = Arc::new(record.object.into_owned());
        let prev = if record.kind == EventType::Deleted {
            state.objects.remove(&key)
        } else {
            state.objects.insert(key.clone(), object.clone())
        };
        state.rv = record.rv;
        state.events.push(Event {
            rv: record.rv,
            kind: record.kind,
            key,
            object,
            prev,
        });
    }
    (records, pos)
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let dest = dir.join(name);
    let mut file = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &dest).map_err(|e| StoreError::io(&dest, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}
