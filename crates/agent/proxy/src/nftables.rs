//! nftables mode: kube-proxy's `table ip kube-proxy` (and `ip6` when dual-stack), its
//! chains, maps and sets, by kube-proxy's names — but endpoints are picked by a cascade of
//! plain `numgen` rules instead of one anonymous vmap per Service (anonymous sets cost
//! quadratically in their number per table; see the crate README).

mod names;

pub use names::{ChainNames, endpoint_chain_base, service_chain_base};
