//! Starting the infra process. Between fork and exec only async-signal-safe work is allowed,
//! so everything the child needs (paths, hostname) is prepared as C strings before, and the
//! child makes raw syscalls: unshare the namespaces, make its mount tree private, drop the
//! copies of other pods' netns pins (or they would keep those namespaces alive), set the
//! hostname, bind-mount the pod's own /etc/hosts and /etc/resolv.conf, start a session.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::process::ProcessId;

/// What the infra process of one pod is started with.
#[derive(Debug)]
pub(crate) struct InfraSpec {
    pub pod: String,
    /// False for hostNetwork pods: they keep the node's network and UTS namespaces.
    pub own_network: bool,
    pub hostname: Option<String>,
    /// (file in the state dir, path inside the pod) bind mounts, e.g. hosts → /etc/hosts.
    pub binds: Vec<(PathBuf, PathBuf)>,
    pub argv: Vec<String>,
    pub log: PathBuf,
}

/// The child's side, all allocated before fork.
struct ChildSetup {
    flags: libc::c_int,
    hostname: Option<CString>,
    binds: Vec<(CString, CString)>,
    detach: Vec<CString>,
}

// === impl ChildSetup ===

impl ChildSetup {
    /// Runs in the forked child: raw syscalls only, no allocation.
    fn apply(&self) -> std::io::Result<()> {
        let fail = || Err(std::io::Error::last_os_error());
        // SAFETY: plain syscalls on C strings that outlive the call.
        unsafe {
            if libc::unshare(self.flags) != 0 {
                return fail();
            }
            let root = c"/";
            let flags = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return fail();
            }
            // Copies of other pods' pins would hold their namespaces alive: drop them.
            // Errors are fine (not a mount point, already gone).
            for path in &self.detach {
                libc::umount2(path.as_ptr(), libc::MNT_DETACH);
            }
            if let Some(name) = &self.hostname
                && libc::sethostname(name.as_ptr(), name.as_bytes().len()) != 0
            {
                return fail();
            }
            for (source, target) in &self.binds {
                if libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
                {
                    return fail();
                }
            }
            libc::setsid();
        }
        Ok(())
    }
}

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("paths hold no NUL byte")
}

/// Starts the infra process and returns it once it runs in its namespaces. The caller keeps
/// the child handle so that its exit is reaped.
pub(crate) fn start(spec: &InfraSpec) -> Result<(ProcessId, tokio::process::Child)> {
    let mut flags = libc::CLONE_NEWNS;
    if spec.own_network {
        flags |= libc::CLONE_NEWNET | libc::CLONE_NEWUTS;
    }
    let mut detach: Vec<CString> = podnet_netns::list("")
        .unwrap_or_default()
        .iter()
        .map(|n| c_path(&podnet_netns::path_of(n)))
        .collect();
    detach.push(c_path(Path::new(podnet_netns::RUN_DIR)));
    let setup = ChildSetup {
        flags,
        hostname: spec
            .hostname
            .as_ref()
            .filter(|_| spec.own_network)
            .map(|h| CString::new(h.as_bytes()).expect("hostnames hold no NUL byte")),
        binds: spec
            .binds
            .iter()
            .map(|(s, t)| (c_path(s), c_path(t)))
            .collect(),
        detach,
    };
    let log = crate::container::open_log(&spec.log)?;
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .map_err(|e| Error::io(&spec.log, "duplicate", e))?,
        )
        .stderr(log);
    // SAFETY: `apply` makes only async-signal-safe syscalls on memory prepared before fork.
    unsafe {
        cmd.pre_exec(move || setup.apply());
    }
    let child = cmd.spawn().map_err(|e| Error::Container {
        pod: spec.pod.clone(),
        container: "infra".to_owned(),
        reason: format!("start {}: {e}", spec.argv.join(" ")),
    })?;
    let pid = child.id().expect("a child just spawned has a PID") as i32;
    let process = ProcessId::of(pid).ok_or_else(|| Error::Container {
        pod: spec.pod.clone(),
        container: "infra".to_owned(),
        reason: "the infra process exited at once".to_owned(),
    })?;
    Ok((process, child))
}
