//! Fixtures for tests that touch the real kernel (namespaces, the proxy's node-with-pods
//! topology), golden files, and the DNS garbage generator the fuzz tests share.
//!
//! Every such test makes its own network namespaces with [`Netns::new`], named with the
//! `pn-t-` prefix, the test's tag and the process id, and the guard deletes them on drop —
//! also when the test panics. [`sweep_leftovers`] clears what a killed run left behind.

mod cmd;
pub mod dns_garbage;
mod golden;
mod kubectl;
mod netns;
pub mod proxy_topology;
mod rng;

pub use cmd::{run, run_in_netns, run_ok};
pub use golden::golden;
pub use kubectl::Kubectl;
pub use netns::{Netns, TEST_PREFIX, sweep_leftovers, unique_name};
pub use rng::Rng;
