//! The pod sandbox: an infra (pause) process holding the pod's network, mount and UTS
//! namespaces, its netns pinned under /run/netns (CNI_NETNS, `podnet lab exec`), and the
//! pod's network through the CNI runtime library with the node's conflist.
//!
//! - [`infra`]: starting the infra process in fresh namespaces (work done between fork and
//!   exec, with nothing but raw syscalls).
//! - [`network`]: CNI ADD/DEL of the node's network list, with the arguments the kubelet
//!   passes (`K8S_POD_*` CNI_ARGS, `portMappings` for hostPorts).

pub(crate) mod infra;
pub(crate) mod network;

use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};
use nix::sys::signal::Signal;

use crate::error::{Error, Result};
use crate::process::ProcessId;

/// Pins the network namespace of `infra` at `/run/netns/NAME`, as `ip netns attach` does.
pub(crate) fn pin_netns(name: &str, infra: ProcessId, pod: &str) -> Result<PathBuf> {
    let path = podnet_netns::path_of(name);
    let dir = Path::new(podnet_netns::RUN_DIR);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create", e))?;
    std::fs::File::create(&path).map_err(|e| Error::io(&path, "create the mount point", e))?;
    let source = infra.ns_path("net");
    let pinned = mount(
        Some(source.as_path()),
        &path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    );
    if let Err(source) = pinned {
        let _ = std::fs::remove_file(&path);
        return Err(Error::Sys {
            pod: pod.to_owned(),
            op: "pin the network namespace",
            source,
        });
    }
    // The process must still be the one whose namespace was pinned.
    if !infra.is_alive() {
        let _ = podnet_netns::delete(name);
        return Err(Error::Container {
            pod: pod.to_owned(),
            container: "infra".to_owned(),
            reason: "the infra process exited while its namespace was pinned".to_owned(),
        });
    }
    Ok(path)
}

/// Stops the infra process (SIGKILL: it holds nothing but namespaces) and waits until it is
/// gone, up to a few seconds.
pub(crate) async fn stop_infra(infra: ProcessId) {
    if !infra.signal(Signal::SIGKILL) {
        return;
    }
    crate::container::wait_gone(infra, std::time::Duration::from_secs(5)).await;
}
