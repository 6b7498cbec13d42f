//! Fixtures for tests that touch the real kernel, and golden files.
//!
//! Every such test makes its own network namespaces with [`Netns::new`], named with the
//! `pn-t-` prefix, the test's tag and the process id, and the guard deletes them on drop —
//! also when the test panics. [`sweep_leftovers`] clears what a killed run left behind.

mod cmd;
mod golden;
mod netns;

pub use cmd::{run, run_in_netns, run_ok};
pub use golden::golden;
pub use netns::{Netns, TEST_PREFIX, sweep_leftovers, unique_name};
