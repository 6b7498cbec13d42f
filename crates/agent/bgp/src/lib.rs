//! The node agent's BGP speaker: it announces to a router this node's LoadBalancer
//! addresses (one /32 each; with `externalTrafficPolicy: Local` only while a ready endpoint
//! of the Service runs here) and, in `routingMode: bgp`, this node's pod CIDR, with the node
//! as next hop — MetalLB's BGP mode and Calico's node-to-router peering, in podnet's shape:
//!
//! ```text
//! Services, EndpointSlices, Node ──announcements()──▶ Announcements ──watch──▶ Speaker ──TCP 179──▶ router
//!        (model)                        pure             (prefixes)      session: OPEN, KEEPALIVE,
//!                                                                         UPDATE diffs, NOTIFICATION
//! ```
//!
//! - [`announcements`] decides what this node announces, from the model alone (pure; its
//!   `Display` is the debug view).
//! - [`wire`] encodes and decodes the BGP-4 messages a speaker that only announces needs
//!   (RFC 4271 §4, 4-octet AS numbers per RFC 6793, capabilities per RFC 5492), I/O-free.
//! - [`Speaker`] keeps one session with the peer: connects (and reconnects after a failure),
//!   sends the whole set once established and then only the differences, and on shutdown
//!   ends with a Cease NOTIFICATION so that the router withdraws at once. A killed agent's
//!   kernel closes the connection just as promptly; the hold timer covers a node that goes
//!   silent.
//!
//! The speaker only announces: it asks the peer for nothing (the lab's router exports
//! nothing to the nodes) and ignores the UPDATEs it receives. IPv4 unicast only.

mod announce;
mod error;
mod session;
mod speaker;
pub mod wire;

pub use announce::{Announcements, Origin, announcements};
pub use error::{Error, Result};
pub use speaker::{Peer, Settings, Speaker};
