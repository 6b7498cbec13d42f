//! Processes the kubelet started, named by PID *and* start time, so that a PID the kernel has
//! reused for something else is never taken for a container nor signalled.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    /// `starttime` from `/proc/PID/stat` (clock ticks after boot).
    pub start_time: u64,
}

// === impl ProcessId ===

impl ProcessId {
    /// The identity of a running process, or None if it is gone.
    pub fn of(pid: i32) -> Option<Self> {
        let (_, start_time) = stat(pid)?;
        Some(Self { pid, start_time })
    }

    /// Running (not a zombie) and still the same process.
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some((state, start)) if start == self.start_time && state != 'Z' && state != 'X')
    }

    /// Sends `signal` if the process is still this one. Returns whether it was sent.
    pub fn signal(&self, signal: Signal) -> bool {
        if !self.is_alive() {
            return false;
        }
        kill(Pid::from_raw(self.pid), signal).is_ok()
    }

    /// `/proc/PID/ns/KIND` of this process.
    pub fn ns_path(&self, kind: &str) -> std::path::PathBuf {
        format!("/proc/{}/ns/{kind}", self.pid).into()
    }
}

/// (state, starttime) from `/proc/PID/stat`; the command name may hold spaces and parentheses,
/// so fields are counted after its last `)`.
fn stat(pid: i32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Field 22 of the line is starttime; `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let other = ProcessId {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
        assert!(!other.signal(Signal::SIGCONT));
    }
}
