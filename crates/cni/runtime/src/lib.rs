//! The runtime side of CNI — what libcni is to containerd and CRI-O.
//!
//! - [`conf`]: network configurations on disk, found the way libcni finds them (`*.conflist`
//!   first, then single-plugin `*.conf` / `*.json` files up-converted to one-plugin lists).
//! - [`RuntimeConf`]: one attachment — container id, netns, interface, `CNI_ARGS`, capability
//!   arguments.
//! - [`CniConfig`]: runs a list's plugins for ADD, CHECK, DEL, GC and STATUS, builds each
//!   plugin's stdin as libcni does (`name`, `cniVersion`, `prevResult`, the `runtimeConfig`
//!   a plugin declared `capabilities` for), and keeps each attachment's result in libcni's
//!   cache format under `<cacheDir>/results/`, so that a later DEL or CHECK — from another
//!   process, or from containerd itself — finds it.
//!
//! ADD does not undo a partial failure: like libcni, it reports which plugin failed and
//! leaves the cleanup to the caller, who must call [`CniConfig::del_network_list`] with the
//! same [`RuntimeConf`] (as the kubelet does when a sandbox fails to start). DEL tolerates
//! what a partial ADD leaves behind: no cached result, plugins that never ran.

mod cache;
mod cni_config;
pub mod conf;
mod error;
mod plugin_conf;
mod podnet_network;
mod runtime_conf;

pub use cache::CachedAttachment;
pub use cni_config::{CniConfig, DEFAULT_CACHE_DIR};
pub use conf::NetworkList;
pub use error::{Error, Verb};
pub use podnet_network::{PODNET_CONFLIST, podnet_network};
pub use runtime_conf::RuntimeConf;
