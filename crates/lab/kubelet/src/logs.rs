//! Container logs in the CRI log format, as the kubelet and containerd keep them.
//!
//! - [`layout`]: `<state>/logs/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`, the
//!   previous instance's file kept after a restart, older ones removed.
//! - [`cri`]: the entry format (`<time> <stdout|stderr> <F|P> <text>`), pure.
//! - [`writer`]: a container's output written as entries, rotated by size; it runs in a
//!   logger process per container ([`run_logger`], `podnet lab container-logger`), started
//!   by the kubelet through `logger`.
//! - [`filter`] and [`reader`]: `PodLogOptions` (tailLines, sinceTime/sinceSeconds,
//!   timestamps, limitBytes, follow) applied to one file, as a stream of byte chunks.
//!
//! Reading a container's log, as the kubelet's `/containerLogs` and `podnet lab logs` do:
//!
//! ```no_run
//! # async fn f(state_dir: &std::path::Path) -> podnet_lab_kubelet::Result<()> {
//! use futures::StreamExt;
//! use podnet_lab_kubelet::logs::{LogOptions, find_container_log_dir, instance_to_read, read_log};
//! let dir = find_container_log_dir(state_dir, "default", "web", "nginx").expect("started");
//! let file = instance_to_read(&dir, false).expect("a log file");
//! let mut chunks = read_log(&file, &LogOptions { tail_lines: Some(10), ..Default::default() })?;
//! while let Some(chunk) = chunks.next().await {
//!     print!("{}", String::from_utf8_lossy(&chunk?));
//! }
//! # Ok(()) }
//! ```

pub mod cri;
pub mod filter;
pub mod layout;
pub(crate) mod logger;
pub mod reader;
pub mod writer;

pub use filter::{LogOptions, PodLogQuery};
pub use layout::{
    container_log_dir, find_container_log_dir, instance_log_path, instance_to_read, pod_log_dir,
};
pub use logger::LOGGER_COMMAND;
pub use reader::read_log;
pub use writer::{LogRotation, run_logger};

#[cfg(test)]
mod tests;
