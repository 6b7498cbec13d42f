//! The lab's world as network namespaces (DESIGN.md, "The lab's world"):
//!
//! ```text
//!            fabric (bridge br0 172.18.0.1/16, routes 203.0.113.0/24)
//!           /     |      \                       \
//!   node 0 .2   node 1 .3   node 2 .4  …     external 203.0.113.10
//!                          router .254 (BGP labs: the pool and pod CIDRs are routed via it)
//! ```
//!
//! [`Plan`] names every namespace, link and address from the lab's name and its nodes (pure);
//! [`build`] creates them in the kernel; [`teardown`] ends every process inside the lab's
//! namespaces (by pid: only the lab puts processes there) and removes the namespaces.
//! The machine's own namespace is never touched: every link is created inside a lab
//! namespace, and the only link between them and the host is none at all.

mod build;
mod error;
mod plan;
mod teardown;

pub use build::build;
pub use error::{Error, Result};
pub use plan::{
    API_PORT, EXTERNAL_GATEWAY, EXTERNAL_IP, FABRIC_BRIDGE, FABRIC_GATEWAY, NODE_NETWORK, NodePlan,
    Plan, ROUTER_IP, RouterPlan,
};
pub use teardown::teardown;
