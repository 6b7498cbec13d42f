//! The on-disk state of one network, in host-local's layout so both plugins can share it:
//!
//! ```text
//! <dataDir>/<network>/lock                 flock(LOCK_EX) for the length of every operation
//! <dataDir>/<network>/<ip>                 "<containerID>\r\n<ifname>": one reservation
//! <dataDir>/<network>/last_reserved_ip.<n> the address range set n handed out last
//! ```
//!
//! Crash safety: a reservation is written to a temp file in the same directory and then
//! hard-linked to the address's name, which fails if the name exists; so it appears whole
//! or not at all, and never overwrites another's. The marker is replaced by rename. Temp
//! files exist only while the lock is held, so any temp file seen under the lock is a
//! crashed writer's leftover and is swept by [`Store::scan`].

mod sys;

use std::fs::{self, File, OpenOptions};
use std::io::ErrorKind;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::crash::{CrashHook, CrashPoint};
use crate::error::Error;

pub const LOCK_FILE: &str = "lock";
pub const LAST_RESERVED_PREFIX: &str = "last_reserved_ip.";
/// Leftover temp files start with this; host-local ignores them (not an address).
pub const TEMP_PREFIX: &str = ".podnet-tmp.";
const LINE_BREAK: &str = "\r\n";

/// Who holds a reservation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attachment {
    pub container_id: String,
    /// Empty for the pre-0.7 host-local format, which recorded only the container ID.
    pub ifname: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub ip: IpAddr,
    /// `None` when the file cannot be read as an owner (never written so by either plugin).
    pub owner: Option<Attachment>,
    /// The file's name; normally `ip` as text, kept as found so release removes that file.
    name: String,
}

/// One network's directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    _lock: File,
    hook: CrashHook,
}

// === impl Attachment ===

impl Attachment {
    pub fn new(container_id: impl Into<String>, ifname: impl Into<String>) -> Self {
        Self {
            container_id: container_id.into(),
            ifname: ifname.into(),
        }
    }

    fn render(&self) -> String {
        format!("{}{LINE_BREAK}{}", self.container_id.trim(), self.ifname)
    }

    fn parse(content: &str) -> Option<Self> {
        let content = content.trim();
        let (id, ifname) = content.split_once(LINE_BREAK).unwrap_or((content, ""));
        (!id.is_empty()).then(|| Self::new(id, ifname))
    }

    /// Whether a reservation recorded as `self` belongs to `other`; a legacy record
    /// (container ID only) belongs to every interface of its container.
    pub fn covers(&self, other: &Attachment) -> bool {
        self.container_id == other.container_id
            && (self.ifname.is_empty() || self.ifname == other.ifname)
    }
}

// === impl Reservation ===

impl Reservation {
    pub fn is_owned_by(&self, who: &Attachment) -> bool {
        self.owner.as_ref().is_some_and(|o| o.covers(who))
    }
}

// === impl Store ===

impl Store {
    /// Creates the network's directory if needed and takes its lock.
    pub fn open(dir: &Path, hook: CrashHook) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        Self::lock(dir, hook)
    }

    /// Takes the lock of an existing directory; `None` if the network has no state at all
    /// (a DEL or GC then has nothing to do, and should not create it).
    pub fn open_existing(dir: &Path, hook: CrashHook) -> Result<Option<Self>, Error> {
        match fs::metadata(dir) {
            Ok(_) => Self::lock(dir, hook).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading", dir, e)),
        }
    }

    fn lock(dir: &Path, hook: CrashHook) -> Result<Self, Error> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("opening", &path, e))?;
        sys::lock_exclusive(&file).map_err(|e| Error::io("locking", &path, e))?;
        hook.at(CrashPoint::AfterLock);
        Ok(Self {
            dir: dir.to_owned(),
            _lock: file,
            hook,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every reservation, read in one pass over the directory; crashed writers' temp files
    /// are removed on the way.
    pub fn scan(&self) -> Result<Vec<Reservation>, Error> {
        let entries = fs::read_dir(&self.dir).map_err(|e| Error::io("reading", &self.dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading", &self.dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let path = entry.path();
            if name.starts_with(TEMP_PREFIX) {
                tracing::info!(file = %name, "removing a crashed writer's temp file");
                remove_if_present(&path)?;
                continue;
            }
            let Ok(ip) = name.parse::<IpAddr>() else {
                continue; // lock, last_reserved_ip.*, anything else
            };
            let owner = match sys::read_small(&path) {
                Ok(bytes) => std::str::from_utf8(&bytes).ok().and_then(Attachment::parse),
                // Released between read_dir and here: only another plugin could do that.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("reading", &path, e)),
            };
            out.push(Reservation { ip, owner, name });
        }
        Ok(out)
    }

    /// Reserves `ip` for `owner`; `None` if it is already taken.
    pub fn reserve(&self, ip: IpAddr, owner: &Attachment) -> Result<Option<Reservation>, Error> {
        let name = ip.to_string();
        let tmp = self.temp_path(&name);
        fs::write(&tmp, owner.render()).map_err(|e| Error::io("writing", &tmp, e))?;
        self.hook.at(CrashPoint::AfterTempWrite);
        let target = self.dir.join(&name);
        let linked = fs::hard_link(&tmp, &target);
        if linked.is_ok() {
            // Both names exist now: the window a crash must not turn into a leak.
            self.hook.at(CrashPoint::AfterLink);
        }
        remove_if_present(&tmp)?;
        match linked {
            Ok(()) => Ok(Some(Reservation {
                ip,
                owner: Some(owner.clone()),
                name,
            })),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(Error::io("linking", &target, e)),
        }
    }

    pub fn release(&self, r: &Reservation) -> Result<(), Error> {
        remove_if_present(&self.dir.join(&r.name))
    }

    /// Releases each of `rs`; returns how many.
    pub fn release_all<'r>(
        &self,
        rs: impl IntoIterator<Item = &'r Reservation>,
    ) -> Result<usize, Error> {
        let mut n = 0;
        for r in rs {
            self.release(r)?;
            n += 1;
            if n == 1 {
                self.hook.at(CrashPoint::AfterFirstRelease);
            }
        }
        Ok(n)
    }

    /// The address range set `set` handed out last; unreadable counts as none (the round
    /// robin then restarts at the first range, as in host-local).
    pub fn last_reserved(&self, set: usize) -> Option<IpAddr> {
        let path = self.dir.join(format!("{LAST_RESERVED_PREFIX}{set}"));
        fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    /// Replaces the marker atomically (host-local truncates and rewrites it in place). A
    /// crash between the exchange and the unlink leaves the old marker in a temp file, which
    /// the next scan sweeps.
    pub fn set_last_reserved(&self, set: usize, ip: IpAddr) -> Result<(), Error> {
        self.hook.at(CrashPoint::BeforeLastReserved);
        let name = format!("{LAST_RESERVED_PREFIX}{set}");
        let tmp = self.temp_path(&name);
        fs::write(&tmp, ip.to_string()).map_err(|e| Error::io("writing", &tmp, e))?;
        self.hook.at(CrashPoint::AfterLastReservedTemp);
        let path = self.dir.join(&name);
        sys::replace(&tmp, &path).map_err(|e| Error::io("replacing", &path, e))
    }

    /// Ends the operation: the lock goes with the descriptor.
    pub fn unlock(self) {
        self.hook.at(CrashPoint::BeforeUnlock);
    }

    fn temp_path(&self, name: &str) -> PathBuf {
        self.dir
            .join(format!("{TEMP_PREFIX}{}.{name}", std::process::id()))
    }
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

#[cfg(test)]
mod tests;
