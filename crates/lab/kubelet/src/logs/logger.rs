//! The kubelet's side of a container's logger: the log file is created and locked, two
//! pipes are made, and `podnet lab container-logger` is started with the read ends and the
//! file; the write ends become the container's stdout and stderr.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;

use super::layout::{container_log_dir, instance_log_path, remove_instances_before};
use super::writer::{LogRotation, create_locked};
use crate::config::KubeletConfig;
use crate::error::{Error, Result};

/// The `podnet` sub-command that runs [`super::run_logger`].
pub const LOGGER_COMMAND: [&str; 2] = ["lab", "container-logger"];

/// One container instance, by its pod and its number of restarts before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Instance<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub uid: &'a str,
    pub container: &'a str,
    pub restart_count: i32,
}

/// Starts the logger of `instance` in its file of the kubelet's layout; the files of
/// instances before the previous one are removed, as upstream removes those containers.
pub(crate) fn start_instance(
    config: &KubeletConfig,
    instance: &Instance<'_>,
) -> Result<(OwnedFd, OwnedFd)> {
    let dir = container_log_dir(
        &config.state_dir,
        instance.namespace,
        instance.pod,
        instance.uid,
        instance.container,
    );
    let restart_count = u32::try_from(instance.restart_count).unwrap_or(0);
    remove_instances_before(&dir, restart_count.saturating_sub(1));
    let path = instance_log_path(&dir, restart_count);
    start(&config.podnet_exe, &path, config.log_rotation)
}

/// Starts the logger of one container instance writing `path`; returns the container's
/// stdout and stderr (pipes: the container's, or its console's, to write to). The logger
/// ends by itself once both are closed (the container and every process that inherited
/// them are gone).
pub(crate) fn start(
    podnet_exe: &Path,
    path: &Path,
    rotation: LogRotation,
) -> Result<(OwnedFd, OwnedFd)> {
    let file = OwnedFd::from(create_locked(path)?);
    let pipe = || std::io::pipe().map_err(|e| Error::io(path, "create a pipe for the log", e));
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let (file_fd, err_fd) = (file.as_raw_fd(), err_read.as_raw_fd());
    let mut cmd = tokio::process::Command::new(podnet_exe);
    cmd.args(LOGGER_COMMAND)
        .arg("--path")
        .arg(path)
        .args(["--file-fd", &file_fd.to_string()])
        .args(["--stderr-fd", &err_fd.to_string()])
        .args(["--max-size", &rotation.max_size.to_string()])
        .args(["--max-files", &rotation.max_files.to_string()])
        .stdin(Stdio::from(OwnedFd::from(out_read)))
        .stdout(Stdio::null())
        // Its own complaints go where the kubelet's go.
        .stderr(Stdio::inherit())
        // Like the containers, it is not in the kubelet's process group: a signal to the
        // kubelet's group does not cut the containers' output.
        .process_group(0);
    // SAFETY: fcntl is async-signal-safe; both descriptors stay open until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            for fd in [file_fd, err_fd] {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::io(podnet_exe, "start the container logger", e))?;
    drop((file, err_read));
    // Reaped here while this kubelet runs; a later kubelet leaves that to the reaper.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok((OwnedFd::from(out_write), OwnedFd::from(err_write)))
}
