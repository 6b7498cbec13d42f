//! iptables, ipset and the IPVS probe: the kernel side of the service proxy's iptables and
//! ipvs modes.
//!
//! Like the `nft` crate, everything goes through the userspace tools fed text on stdin, as
//! kube-proxy does: `iptables-restore --noflush` applies a whole ruleset, each table in one
//! transaction, `ipset restore` a batch of set changes. Inside another network namespace
//! the tool is spawned from a thread that entered it ([`podnet_netns::run_in`]); a child
//! inherits the namespace of the thread that forks it.
//!
//! Which xtables backend (nf_tables or legacy) is used is an explicit [`Variant`]; see
//! [`Variant::detect`] for how the agent picks one.

mod addrs;
mod error;
mod exec;
mod ipset;
mod iptables;
mod ipvs;
mod variant;

pub use addrs::local_addresses;
pub use error::{Error, Result};
pub use ipset::Ipset;
pub use iptables::{Family, Iptables, Position, Table, chains_by_table, chains_of};
pub use ipvs::{IpvsSupport, ipvs_support, probe_ipvs};
pub use variant::Variant;
