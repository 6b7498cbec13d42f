//! L2 announcement of LoadBalancer addresses, in `podnet agent` (MetalLB's L2 mode, fenced):
//! for each address exactly one node answers ARP for it on the node network.
//!
//! ```text
//! watcher(Services, EndpointSlices) ──▶ wanted (pure): addresses this node may stand for
//!        ──▶ per address: a Lease candidate (podnet-k8s-lease) ──holding until──▶ ARP responder
//! watcher(Leases, kube-system, podnet.io/l2-announce) ──┘          (podnet-arp: answers, GARP)
//! ```
//!
//! - [`wanted`]: pure; `externalTrafficPolicy: Local` addresses only where a ready local
//!   endpoint is.
//! - [`announcer`]: one Lease `kube-system/podnet-l2-<a-b-c-d>` per address, the node name as
//!   identity; the responder answers for an address only until the holder's fence (renew
//!   deadline after its last successful write was sent, on its own monotonic clock), so a
//!   holder cut off from the API server falls silent before any rival may take over; a
//!   new holder sends gratuitous ARP; an address no longer wanted is released at once; a
//!   node labelled `node.kubernetes.io/exclude-from-external-load-balancers` stands for none.
//! - [`stale`]: the Leases of addresses no Service has any more, deleted by the allocator's
//!   leader once nobody holds them.

pub mod announcer;
mod error;
pub mod stale;
pub mod wanted;

pub use announcer::{Settings, TIMING, lease_name, run};
pub use error::Error;
pub use wanted::wanted;
