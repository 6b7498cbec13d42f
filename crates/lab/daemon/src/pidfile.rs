//! The daemon's pid file, and finding out whether the process it names is still *our*
//! daemon: a pid alone can be reused by an unrelated process after a crash, so the file also
//! records the process's start time (field 22 of `/proc/PID/stat`), and its command line must
//! still be a `lab daemon`.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::DaemonError;
use crate::state::{LabDir, write_atomic};

/// What the pid file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PidFile {
    pub pid: i32,
    /// In clock ticks since boot, from `/proc/PID/stat`.
    pub start_time: u64,
}

/// A running daemon of a lab, verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaemonProcess {
    pub pid: i32,
}

// === impl PidFile ===

impl PidFile {
    /// This process's entry.
    pub fn current() -> Result<Self, DaemonError> {
        let pid = std::process::id() as i32;
        let start_time = start_time(pid).ok_or_else(|| DaemonError::Corrupt {
            path: format!("/proc/{pid}/stat").into(),
            content: String::new(),
        })?;
        Ok(PidFile { pid, start_time })
    }

    /// The entry of process `pid`, if it exists.
    pub fn of(pid: i32) -> Option<Self> {
        Some(PidFile {
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// Whether the process this entry names still runs (the same process: a reused pid
    /// has another start time).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }

    pub fn write(&self, path: &Path) -> Result<(), DaemonError> {
        write_atomic(
            path,
            format!("{} {}\n", self.pid, self.start_time).as_bytes(),
        )
    }

    pub fn read(path: &Path) -> Result<Option<Self>, DaemonError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DaemonError::io(path)(e)),
        };
        let mut parts = text.split_whitespace();
        let parsed = (|| Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?)))();
        match parsed {
            Some((pid, start_time)) => Ok(Some(PidFile { pid, start_time })),
            None => Err(DaemonError::Corrupt {
                path: path.to_path_buf(),
                content: text,
            }),
        }
    }
}

// === impl DaemonProcess ===

impl DaemonProcess {
    /// The lab's daemon if its pid file names a live process that is still that daemon.
    pub fn find(lab: &LabDir) -> Result<Option<Self>, DaemonError> {
        let Some(entry) = PidFile::read(&lab.pid_file())? else {
            return Ok(None);
        };
        let same_process = start_time(entry.pid) == Some(entry.start_time);
        let is_daemon = cmdline(entry.pid)
            .is_some_and(|args| args.windows(2).any(|w| w[0] == "lab" && w[1] == "daemon"));
        Ok((same_process && is_daemon).then_some(DaemonProcess { pid: entry.pid }))
    }

    /// SIGTERM, then waits up to `grace` for the process to go; SIGKILL after that.
    /// Returns whether it had to be killed.
    pub fn stop(&self, grace: Duration) -> bool {
        let pid = Pid::from_raw(self.pid);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.alive() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = kill(pid, Signal::SIGKILL);
        while self.alive() {
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Whether the process still exists and is not a zombie.
    pub fn alive(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|s| stat_fields(&s).and_then(|f| f.first().map(|st| *st != "Z")))
            .unwrap_or(false)
    }
}

/// The fields of `/proc/PID/stat` after the command name (which may hold spaces and parens).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 of the file; the slice starts at field 3.
    stat_fields(&stat)?.get(19)?.parse().ok()
}

fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}
