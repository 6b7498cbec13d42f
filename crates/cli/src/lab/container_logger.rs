//! `podnet lab container-logger`: writes one container instance's stdout and stderr to its
//! CRI log file, rotated by size. The kubelet starts one beside each container (as a
//! runtime's shim holds a container's pipes), so containers keep their output through a
//! kubelet restart; it ends once both streams are closed.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use podnet_lab_kubelet::logs::{LogRotation, run_logger};

/// Write a container's output to its CRI log file (started by the kubelet)
#[derive(Debug, Args)]
#[command(
    after_help = "Example (what the kubelet runs; stdin is the container's stdout):\n  \
    podnet lab container-logger --path ROOT/logs/default_web_UID/nginx/0.log \\\n    \
    --file-fd 5 --stderr-fd 6 --max-size 10485760 --max-files 5"
)]
pub struct ContainerLoggerArgs {
    /// The log file's name (rotated files are PATH.<time>)
    #[arg(long)]
    path: PathBuf,
    /// Inherited descriptor of PATH, opened and locked by the kubelet
    #[arg(long)]
    file_fd: i32,
    /// Inherited read end of the container's stderr (its stdout is this process's stdin)
    #[arg(long)]
    stderr_fd: i32,
    /// Rotate before the file would grow past this many bytes (containerLogMaxSize)
    #[arg(long, default_value_t = LogRotation::default().max_size)]
    max_size: u64,
    /// Files kept, the current one included (containerLogMaxFiles)
    #[arg(long, default_value_t = LogRotation::default().max_files)]
    max_files: usize,
}

pub fn run(args: ContainerLoggerArgs) -> anyhow::Result<()> {
    // SAFETY: the kubelet passes these descriptors open, to this process alone; nothing
    // else here owns them.
    let (file, stderr) = unsafe {
        (
            OwnedFd::from_raw_fd(args.file_fd),
            OwnedFd::from_raw_fd(args.stderr_fd),
        )
    };
    let stdout = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("taking stdin")?;
    run_logger(
        args.path.clone(),
        file,
        stdout,
        stderr,
        LogRotation {
            max_size: args.max_size,
            max_files: args.max_files,
        },
    )
    .with_context(|| format!("container log {}", args.path.display()))
}
