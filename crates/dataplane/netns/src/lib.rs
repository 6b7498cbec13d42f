//! Network namespaces, the way `ip netns` keeps them: pinned by a bind mount of the
//! namespace file onto `/run/netns/NAME`, so that the namespace outlives the thread that
//! made it and any process can enter it by path.
//!
//! Work inside a namespace runs on a dedicated OS thread ([`run_in`]): `setns` changes the
//! calling *thread*, and an async task may move between threads, so it is never done on a
//! runtime's worker. A netlink socket opened on that thread stays bound to the namespace
//! after the thread ends, which is how the netlink crate talks to pods.
//!
//! [`mount`] makes bind and tmpfs mounts inside another process's mount namespace (a pod's
//! volumes), on a dedicated thread as well.

pub mod mount;

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

/// Where named namespaces are pinned, as in iproute2.
pub const RUN_DIR: &str = "/run/netns";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {path}: {op}: {source}")]
    Sys {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("network namespace {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {0:?} already exists")]
    Exists(String),
    #[error("mount {target}: {op}: {source}")]
    Mount {
        target: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("the thread working in network namespace {0} panicked")]
    Panicked(PathBuf),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The pinned path of a named namespace.
pub fn path_of(name: &str) -> PathBuf {
    Path::new(RUN_DIR).join(name)
}

/// Creates a new, empty network namespace pinned at `/run/netns/NAME`.
pub fn create(name: &str) -> Result<PathBuf> {
    let path = path_of(name);
    ensure_run_dir()?;
    if path.exists() {
        return Err(Error::Exists(name.to_owned()));
    }
    fs::File::create(&path).map_err(|source| Error::Io {
        path: path.clone(),
        op: "create the mount point",
        source,
    })?;
    let target = path.clone();
    // unshare() moves the calling thread; a throwaway thread keeps the caller where it is.
    let pinned = std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|source| Error::Sys {
            path: target.clone(),
            op: "unshare",
            source,
        })?;
        let own = format!("/proc/self/task/{}/ns/net", nix::unistd::gettid());
        mount(
            Some(own.as_str()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|source| Error::Sys {
            path: target.clone(),
            op: "bind-mount the namespace",
            source,
        })
    })
    .join()
    .map_err(|_| Error::Panicked(path.clone()))?;
    if let Err(e) = pinned {
        let _ = fs::remove_file(&path);
        return Err(e);
    }
    tracing::debug!(netns = %path.display(), "created network namespace");
    Ok(path)
}

/// Unpins and removes a named namespace. Succeeds if it does not exist. The namespace itself
/// goes away when its last process leaves.
pub fn delete(name: &str) -> Result<()> {
    let path = path_of(name);
    if !path.exists() {
        return Ok(());
    }
    match umount2(&path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(Error::Sys {
                path,
                op: "unmount",
                source,
            });
        }
    }
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path,
            op: "remove the mount point",
            source,
        }),
    }
}

/// The names of the pinned namespaces that start with `prefix`.
pub fn list(prefix: &str) -> Result<Vec<String>> {
    let entries = match fs::read_dir(RUN_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: RUN_DIR.into(),
                op: "list",
                source,
            });
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    Ok(names)
}

/// The processes whose network namespace is the one pinned at `path`, as `ip netns pids`
/// finds them (same device and inode). Processes that vanish while being looked at are
/// skipped; an empty list when the namespace is not pinned.
pub fn pids(path: &Path) -> Result<Vec<i32>> {
    use std::os::unix::fs::MetadataExt;
    let target = match fs::metadata(path) {
        Ok(m) => (m.dev(), m.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_owned(),
                op: "stat",
                source,
            });
        }
    };
    let proc = fs::read_dir("/proc").map_err(|source| Error::Io {
        path: "/proc".into(),
        op: "list",
        source,
    })?;
    let mut found: Vec<i32> = proc
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/ns/net")).is_ok_and(|m| (m.dev(), m.ino()) == target)
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// Runs `program args…` to completion with `stdin` fed to it, inside the namespace at
/// `netns` (the caller's own when `None`), and returns its output: how the dataplane crates
/// drive `nft`, `iptables-restore` and `conntrack`. The outer error is entering the
/// namespace, the inner one starting or talking to the program.
pub fn output(
    netns: Option<&Path>,
    program: &str,
    args: &[&str],
    stdin: &[u8],
) -> Result<std::io::Result<std::process::Output>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let spawn = || -> std::io::Result<std::process::Output> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin)?;
        }
        child.wait_with_output()
    };
    match netns {
        None => Ok(spawn()),
        Some(path) => run_in(path, spawn),
    }
}

/// Runs `work` on a fresh OS thread that has entered the namespace at `path`.
pub fn run_in<T, F>(path: &Path, work: F) -> Result<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    let file = fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        op: "open",
        source,
    })?;
    std::thread::scope(|s| {
        s.spawn(|| {
            setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|source| Error::Sys {
                path: path.to_owned(),
                op: "setns",
                source,
            })?;
            Ok(work())
        })
        .join()
        .map_err(|_| Error::Panicked(path.to_owned()))?
    })
}

/// Makes `/run/netns` a shared mount point, as iproute2 does, so that namespaces pinned
/// later are visible in mount namespaces created after this one (pods, the lab's nodes).
fn ensure_run_dir() -> Result<()> {
    let dir = Path::new(RUN_DIR);
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.into(),
        op: "create",
        source,
    })?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if mount(None::<&str>, dir, None::<&str>, shared, None::<&str>).is_ok() {
        return Ok(());
    }
    // Not a mount point yet: bind it onto itself first.
    mount(
        Some(dir),
        dir,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .and_then(|_| mount(None::<&str>, dir, None::<&str>, shared, None::<&str>))
    .map_err(|source| Error::Sys {
        path: dir.into(),
        op: "make a shared mount point",
        source,
    })
}
