//! Allocation of Service ClusterIPs and NodePorts, as the real API server does it in its
//! create/update path (not in an asynchronous controller): a taken or out-of-range request must
//! be refused with 422 *before* the object is stored.
//!
//! - [`pool`]: a band allocator over offsets (static band low, dynamic allocations from the top
//!   band first, as KEP-3070 / KEP-3668 do).
//! - [`ip`]: [`ClusterIpAllocator`] over a service CIDR; [`port`]: [`NodePortAllocator`].
//! - [`lb`]: [`LbAllocator`], LoadBalancer addresses from pools (run by a controller, not
//!   the create path).
//! - [`service`]: [`ServiceAllocator`], the admission step over a Service as JSON (the form the
//!   API server stores): fills `spec.clusterIP(s)` / `spec.ipFamilies` / `nodePort`s or returns
//!   field errors with the real server's wording.
//!
//! No I/O and no persistence: after a restart the server rebuilds the allocator from the stored
//! Services with [`ServiceAllocator::observe`].

pub mod error;
pub mod ip;
pub mod lb;
pub mod pool;
pub mod port;
pub mod service;

pub use error::{AllocError, FieldError};
pub use ip::ClusterIpAllocator;
pub use lb::{LbAllocError, LbAllocator, LbOutcome, LbService, Pool};
pub use port::NodePortAllocator;
pub use service::{Allocation, ServiceAllocator};
