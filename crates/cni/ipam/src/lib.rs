//! host-local compatible IPAM: the `podnet-ipam` plugin.
//!
//! It reads Debian's / upstream `host-local` configuration and keeps the same on-disk layout
//! (`<dataDir>/<network>/<ip>` holding `<containerID>\r\n<ifname>`, `last_reserved_ip.<set>`,
//! a `lock` file taken with `flock`), so the two can share a node's state. What it adds:
//! every change is crash-safe (reservations appear whole or not at all), an ADD retried for
//! the same attachment returns what it already holds, and GC / STATUS (CNI 1.1.0).
//!
//! - [`config`]: the `ipam` section, parsed and validated with errors naming the field (pure).
//! - [`range`]: one range and a range set: defaults, containment, overlap (pure).
//! - [`order`]: the round-robin allocation order host-local uses (pure).
//! - [`resolv`]: DNS settings from a resolv.conf file.
//! - [`store`]: the files and the lock; the only module that touches the disk.
//! - [`crash`]: the `PODNET_IPAM_CRASH_AT` test hook.
//! - [`plugin`]: the CNI verbs on top.

pub mod config;
pub mod crash;
mod error;
pub mod order;
pub mod plugin;
pub mod range;
pub mod resolv;
pub mod store;

pub use config::IpamConfig;
pub use crash::{CrashHook, CrashPoint};
pub use error::{ADDRESS_UNAVAILABLE, Error, RANGE_EXHAUSTED};
pub use plugin::IpamPlugin;
pub use range::{Range, RangeSet};
pub use store::{Attachment, Reservation, Store};
