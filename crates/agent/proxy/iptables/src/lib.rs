//! The service proxy's iptables and ipvs modes, as kube-proxy renders them: the same table,
//! chain and set names, the same chain-name hashing, the same rule shapes, rendered from the
//! mode-independent plan of `podnet-agent-proxy` and applied through `podnet-iptables`.
//!
//! - [`names`]: KUBE-SVC-/KUBE-SEP-/… chain names, hashed exactly as upstream.
//! - [`render`]: one service port → its rules (pure).
//! - [`IptablesBackend`]: the iptables mode's [`podnet_agent_proxy::Backend`]: full and partial
//!   syncs through `iptables-restore --noflush`, stale chains flushed and deleted, and
//!   [`cleanup_iptables`] for switching modes.
//! - [`ipvs`]: the ipvs mode's rendering (kube-ipvs0, virtual servers, ipsets, iptables).
//! - [`new_iptables`], [`ipvs_available`]: what the agent calls.

mod backend;
mod cleanup;
mod entry;
mod error;
pub mod ipvs;
pub mod names;
pub mod render;
pub mod ruleset;

pub use backend::{IptablesBackend, IptablesConfig};
pub use cleanup::cleanup_iptables;
pub use entry::{ipvs_available, new_iptables};
pub use error::{Error, Result};
pub use ipvs::cleanup_ipvs;
