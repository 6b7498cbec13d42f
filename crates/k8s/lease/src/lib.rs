//! Leader election on `coordination.k8s.io/v1` Leases, as client-go's `leaderelection`
//! package does it, with one addition: the holder **fences itself** on its own monotonic
//! clock, so that two candidates never act at once, even when the holder is cut off from
//! the API server but not from the world it acts on.
//!
//! - [`election`]: the rules, pure, with the clock injected (unit-tested, including a
//!   simulated partition).
//! - [`candidate`]: one candidate against the API: a shared watch of the namespace's
//!   Leases ([`watch_leases`]), compare-and-swap writes, and a `watch` channel telling until
//!   when it may act ([`Holding`]); it releases the Lease when stopped.
//!
//! Used by the lb-ipam controller (one leader hands out addresses) and by the agent's L2
//! announcer (one Lease per LoadBalancer address: the one node that answers ARP for it).

pub mod candidate;
pub mod election;
mod error;

pub use candidate::{Holding, LeaseRef, LeaseView, record_of, run, watch_leases};
pub use election::{Election, Record, Step, Timing, Write};
pub use error::Error;
