//! One supervised process of the lab (a node's agent or kubelet, the external host's
//! servers): started inside its namespace, restarted with back-off when it exits, stopped
//! when its `stopped` marker appears (`podnet lab stop NODE/COMPONENT`) and started again
//! when the marker goes (`podnet lab start …`), ended with SIGTERM then SIGKILL when the
//! lab stops. The daemon only ever signals the processes it started, by their pid.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use podnet_lab_controllers::CancellationToken;
use tokio::process::{Child, Command};

use crate::pidfile::PidFile;
use crate::state::{Component, LabDir};

/// First restart delay; doubles up to [`MAX_BACKOFF`], reset after a run of
/// [`HEALTHY_RUN`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const HEALTHY_RUN: Duration = Duration::from_secs(10);
/// Time between SIGTERM and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How often the `stopped` marker is looked at.
const MARKER_POLL: Duration = Duration::from_millis(100);

/// What to run, and where.
#[derive(Clone, Debug)]
pub struct Spec {
    pub component: Component,
    /// The network namespace the process starts in.
    pub netns: PathBuf,
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// Keeps `spec` running until `stop`.
pub async fn supervise(lab: LabDir, spec: Spec, stop: CancellationToken) {
    let c = &spec.component;
    let mut backoff = FIRST_BACKOFF;
    if let Err(error) = std::fs::create_dir_all(lab.component_dir(c)) {
        tracing::error!(component = %c, %error, "cannot create its state directory");
        return;
    }
    while !stop.is_cancelled() {
        if lab.stopped_marker(c).exists() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(MARKER_POLL) => continue,
            }
        }
        let mut child = match spawn(&lab, &spec) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(component = %c, %error, "cannot start");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(MAX_BACKOFF) => continue,
                }
            }
        };
        let pid = child.id().map_or(0, |p| p as i32);
        if let Some(entry) = PidFile::of(pid) {
            let _ = entry.write(&lab.component_pid_file(c));
        }
        tracing::info!(component = %c, pid, "started");
        let started = Instant::now();
        let mut poll = tokio::time::interval(MARKER_POLL);
        let how = loop {
            tokio::select! {
                status = child.wait() => break Ended::Exited(status.ok()),
                () = stop.cancelled() => break Ended::Stopping,
                _ = poll.tick() => if lab.stopped_marker(c).exists() {
                    break Ended::Stopping;
                },
            }
        };
        match how {
            Ended::Exited(status) => {
                tracing::warn!(component = %c, pid, ?status, "exited; restarting");
                let _ = std::fs::remove_file(lab.component_pid_file(c));
                if started.elapsed() > HEALTHY_RUN {
                    backoff = FIRST_BACKOFF;
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ended::Stopping => {
                terminate(&mut child, pid).await;
                let _ = std::fs::remove_file(lab.component_pid_file(c));
                tracing::info!(component = %c, pid, "stopped");
                backoff = FIRST_BACKOFF;
            }
        }
    }
}

enum Ended {
    Exited(Option<std::process::ExitStatus>),
    Stopping,
}

/// Starts the process inside its namespace, its output appended to its log.
fn spawn(lab: &LabDir, spec: &Spec) -> std::io::Result<Child> {
    let log_path = lab.component_log(&spec.component);
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)?;
    let netns = File::open(&spec.netns)?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env("NO_COLOR", "1")
        // Its own process group: a Ctrl-C meant for a daemon in the foreground reaches the
        // daemon, which then stops its children in order.
        .process_group(0);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    // SAFETY: setns is a single system call on an fd opened before the fork; nothing in the
    // closure allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            setns(netns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
        });
    }
    cmd.spawn()
}

/// SIGTERM, up to [`STOP_GRACE`] to exit, then SIGKILL.
async fn terminate(child: &mut Child, pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        tracing::warn!(pid, "did not stop in time; killing it");
        let _ = child.kill().await;
    }
}
