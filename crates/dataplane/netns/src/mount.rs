//! Mounts made inside another process's mount namespace: what the lab's kubelet needs to put a
//! pod's volumes at their `mountPath`s inside the namespace its infra process holds.
//!
//! The work runs on a dedicated OS thread that first unshares its filesystem context
//! (`CLONE_FS`: the kernel refuses `setns` into a mount namespace for a thread that shares it
//! with others) and then enters the target's namespace; the thread ends with the work, so no
//! other code ever runs there. Every mount is made `MS_PRIVATE` at once, and the namespaces
//! the kubelet mounts into were made private when they were created, so nothing propagates
//! back to the machine's own mount table.

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};

use crate::{Error, Result};

/// What is mounted at a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A bind mount of a directory or file (as seen from inside the namespace).
    Bind(PathBuf),
    /// A fresh tmpfs, optionally size-limited in bytes.
    Tmpfs { size: Option<u64> },
}

/// One mount, made in order after those before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub source: Source,
    pub target: PathBuf,
    pub read_only: bool,
}

/// Makes `mounts`, in order, inside the mount namespace of process `pid`. A missing target is
/// created first (a directory, or an empty file when a file is bind-mounted). Stops at the
/// first failure; the mounts made before it stay (they go with the namespace).
pub fn mount_in(pid: i32, mounts: &[Mount]) -> Result<()> {
    let ns_path = PathBuf::from(format!("/proc/{pid}/ns/mnt"));
    let ns = fs::File::open(&ns_path).map_err(|source| Error::Mount {
        target: ns_path.clone(),
        op: "open the mount namespace",
        source,
    })?;
    std::thread::scope(|s| {
        s.spawn(|| {
            let enter = |op, r: nix::Result<()>| {
                r.map_err(|e| Error::Mount {
                    target: ns_path.clone(),
                    op,
                    source: e.into(),
                })
            };
            enter(
                "unshare the filesystem context",
                unshare(CloneFlags::CLONE_FS),
            )?;
            enter(
                "enter the mount namespace",
                setns(ns.as_fd(), CloneFlags::CLONE_NEWNS),
            )?;
            mounts.iter().try_for_each(make)
        })
        .join()
        .map_err(|_| Error::Panicked(ns_path.clone()))?
    })
}

/// One mount, on the thread that entered the namespace.
fn make(m: &Mount) -> Result<()> {
    let target = m.target.as_path();
    let fail = |op: &'static str| {
        move |e: nix::Error| Error::Mount {
            target: target.to_owned(),
            op,
            source: e.into(),
        }
    };
    let is_file = matches!(&m.source, Source::Bind(s) if s.is_file());
    ensure_target(target, is_file)?;
    match &m.source {
        Source::Bind(source) => mount(
            Some(source.as_path()),
            target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(fail("bind-mount"))?,
        Source::Tmpfs { size } => {
            let options = match size {
                Some(bytes) => format!("mode=0777,size={bytes}"),
                None => "mode=0777".to_owned(),
            };
            mount(
                Some("tmpfs"),
                target,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_str()),
            )
            .map_err(fail("mount a tmpfs"))?
        }
    }
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(fail("make private"))?;
    if m.read_only {
        // A bind mount takes MS_RDONLY only on a remount of itself.
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
            .map_err(fail("remount read-only"))?;
    }
    tracing::debug!(target = %target.display(), source = ?m.source, read_only = m.read_only, "mounted");
    Ok(())
}

/// Creates a missing mount point: a directory, or an empty file for a file bind mount.
fn ensure_target(target: &Path, is_file: bool) -> Result<()> {
    if fs::symlink_metadata(target).is_ok() {
        return Ok(());
    }
    let io = |op: &'static str| {
        move |source| Error::Mount {
            target: target.to_owned(),
            op,
            source,
        }
    };
    if !is_file {
        return fs::create_dir_all(target).map_err(io("create the mount point"));
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(io("create the mount point's directory"))?;
    }
    fs::File::create(target)
        .map(drop)
        .map_err(io("create the mount point"))
}
