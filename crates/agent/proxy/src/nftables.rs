//! nftables mode: kube-proxy's `table ip kube-proxy` (and `ip6` when dual-stack), its
//! chains, maps and sets, by kube-proxy's names — but endpoints are picked by a cascade of
//! plain `numgen` rules instead of one anonymous vmap per Service (anonymous sets cost
//! quadratically in their number per table; see the crate README).
//!
//! - [`render`]: plan → [`Desired`], typed podnet-nft objects (pure; golden-tested, and
//!   traced with podnet-nft's packet tracer).
//! - [`transaction`]: desired → a podnet-nft transaction, full or partial.
//! - [`NftBackend`]: the [`crate::Backend`] that applies it through podnet-nft's netlink
//!   executor; [`cleanup`] removes the tables.

mod backend;
mod names;
pub mod render;
pub mod ruleset;
pub mod transaction;

pub use backend::{NftBackend, cleanup};
pub use names::{ChainNames, endpoint_chain_base, service_chain_base};
pub use ruleset::{Applied, Desired};
