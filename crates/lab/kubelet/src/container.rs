//! Containers as processes that join the pod's namespaces. The joining (setns into the infra
//! process's net, UTS and mount namespaces, then chdir and a new session) happens in the
//! forked child before exec, never on a runtime thread.
//!
//! - [`console`]: stdin and tty kept open for `attach`, output fanned out to the log and
//!   the attached sessions.
//! - [`env`]: the container's environment (env, envFrom, the downward API, `$(VAR)`
//!   expansion).
//! - [`service_env`]: the Service environment variables.
//! - [`image`]: the argv it runs (emulated images' built-in workloads through
//!   `podnet workload`, else a host command), and whether its image can run at all.

pub(crate) mod console;
pub(crate) mod env;
pub(crate) mod image;
pub(crate) mod service_env;

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::process::ProcessId;

/// What runs in a container: argv (argv[0] looked up in the pod's PATH), environment, cwd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProcessSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
}

/// The pod whose namespaces a process joins.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PodNamespaces {
    pub infra: ProcessId,
    /// False for hostNetwork pods: the node's network and UTS namespaces are kept.
    pub own_network: bool,
}

/// Opens (creating) a container's log file for appending.
pub(crate) fn open_log(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create the log dir", e))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, "open the log", e))
}

/// The standard streams of a process started by [`spawn_with`].
pub(crate) struct ProcessIo {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// Make stdin (a pty's slave end) the controlling terminal of the process's new
    /// session, as a container runtime does for `tty: true`.
    pub controlling_tty: bool,
}

/// Starts `spec` inside the pod's namespaces with the given stdout and stderr (stdin
/// /dev/null).
pub(crate) fn spawn_in(
    pod: &str,
    container: &str,
    ns: PodNamespaces,
    spec: &ProcessSpec,
    stdout: Stdio,
    stderr: Stdio,
) -> Result<(ProcessId, tokio::process::Child)> {
    let io = ProcessIo {
        stdin: Stdio::null(),
        stdout,
        stderr,
        controlling_tty: false,
    };
    spawn_with(pod, container, ns, spec, io)
}

/// Starts `spec` inside the pod's namespaces with the streams of `io`.
pub(crate) fn spawn_with(
    pod: &str,
    container: &str,
    ns: PodNamespaces,
    spec: &ProcessSpec,
    io: ProcessIo,
) -> Result<(ProcessId, tokio::process::Child)> {
    let fail = |reason: String| Error::Container {
        pod: pod.to_owned(),
        container: container.to_owned(),
        reason,
    };
    if !ns.infra.is_alive() {
        return Err(fail("the pod's infra process is not running".to_owned()));
    }
    let mut kinds = vec![];
    if ns.own_network {
        kinds.extend([("net", libc::CLONE_NEWNET), ("uts", libc::CLONE_NEWUTS)]);
    }
    // Mount last: after it, /proc paths would be the pod's (the fds are opened first anyway).
    kinds.push(("mnt", libc::CLONE_NEWNS));
    let files = kinds
        .iter()
        .map(|(kind, flag)| {
            let path = ns.infra.ns_path(kind);
            File::open(&path)
                .map(|f| (f, *flag))
                .map_err(|e| Error::io(path, "open the pod's namespace", e))
        })
        .collect::<Result<Vec<_>>>()?;
    // The files must be those of the same infra process, not of a reused PID.
    if !ns.infra.is_alive() {
        return Err(fail("the pod's infra process exited".to_owned()));
    }
    let fds: Vec<(i32, libc::c_int)> = files
        .iter()
        .map(|(f, flag)| (f.as_raw_fd(), *flag))
        .collect();
    let cwd = CString::new(spec.working_dir.as_deref().unwrap_or("/"))
        .map_err(|_| fail("workingDir holds a NUL byte".to_owned()))?;
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| fail("no command to run".to_owned()))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(io.stdin)
        .stdout(io.stdout)
        .stderr(io.stderr);
    let controlling_tty = io.controlling_tty;
    // SAFETY: setns, chdir, setsid and ioctl are async-signal-safe; the fds and the C string
    // live until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            for (fd, flag) in &fds {
                if libc::setns(*fd, *flag) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::chdir(cwd.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::setsid();
            if controlling_tty && libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| fail(format!("start {:?}: {e}", spec.argv)))?;
    drop(files);
    let pid = child
        .id()
        .ok_or_else(|| fail("exited at once".to_owned()))? as i32;
    // A process that exits at once is still reported through its child handle.
    let process = ProcessId::of(pid).unwrap_or(ProcessId { pid, start_time: 0 });
    Ok((process, child))
}

/// Waits until `process` is gone (or a zombie), up to `timeout`. Returns whether it is.
pub(crate) async fn wait_gone(process: ProcessId, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if !process.is_alive() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
