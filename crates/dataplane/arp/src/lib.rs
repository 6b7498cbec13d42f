//! ARP on one interface, for LoadBalancer addresses announced on the node network (L2
//! mode, as MetalLB's speaker does): the kernel knows nothing of these addresses (the proxy
//! forwards them by DNAT), so nothing answers ARP for them unless this does.
//!
//! - [`packet`]: Ethernet + ARP frames, pure.
//! - [`socket`]: the AF_PACKET socket (`ETH_P_ARP`, bound to the interface), and the
//!   interface holding a given address.
//! - [`responder`]: a thread answering requests for each address until a deadline (the
//!   holder's lease fence), and gratuitous announcements on takeover.
//!
//! See the crate's README for the kernel side.

mod error;
pub mod packet;
pub mod responder;
pub mod socket;

pub use error::{Error, Result};
pub use packet::{Arp, Mac, Op};
pub use responder::Responder;
pub use socket::{ArpSocket, interface_holding, interface_holding_in};
