//! nftables as typed objects: tables, chains, rules made of typed expressions, sets and maps
//! with typed elements, and [`Transaction`]s that change one table atomically.
//!
//! Two [`Executor`]s apply a transaction: [`Nft`] renders it as an `nft -f` script (readable,
//! what people debug with) and runs it in a network namespace; [`Fake`] applies it in memory,
//! refusing what the kernel refuses, and holds typed state the [`trace`] module walks packets
//! through. Both read state back as a [`TableDump`], which [`diff`] compares with a desired
//! [`Table`] to build the smallest transaction that gets there.
//!
//! Inside another network namespace the binary is spawned from a thread that entered it
//! ([`podnet_netns::run_in`]): a child inherits the namespace of the thread that forks it,
//! so no `ip netns exec` and no `setns` on the caller's thread.

pub mod build;
mod cli;
pub mod diff;
mod dump;
mod error;
pub mod expr;
mod fake;
#[cfg(feature = "test-util")]
pub mod fixture;
pub mod netlink;
pub mod object;
mod readback;
pub mod render;
pub mod trace;
pub mod transaction;
pub mod types;

pub use cli::Nft;
pub use diff::diff;
pub use dump::{ChainDump, RuleDump, SetDump, TableDump};
pub use error::{Error, Refusal, Result};
pub use fake::Fake;
pub use netlink::NetlinkExecutor;
pub use object::{Table, TableId};
pub use transaction::Transaction;

/// Applies transactions and reads tables back: the kernel (through `nft`) or a fake.
pub trait Executor {
    /// Applies `tx` atomically: all of it, or nothing and an error.
    fn execute(&mut self, tx: &Transaction) -> Result<()>;

    /// What `table` holds now; `None` if it does not exist.
    fn dump(&self, table: &TableId) -> Result<Option<TableDump>>;
}
