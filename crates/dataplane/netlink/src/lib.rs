//! Links, addresses, routes and bridge ports over rtnetlink, inside any network namespace.
//!
//! A [`Netlink`] is a route-netlink socket bound to one network namespace: it is opened on a
//! thread that entered the namespace ([`podnet_netns::run_in`]) and stays bound to it, so one
//! process can talk to the host and to a pod at the same time without ever calling `setns` on
//! a runtime thread. Every operation is one request (or one dump, retried when the kernel
//! marks it interrupted), and every error names the object and the namespace.
//!
//! The methods are `async` and must run inside a tokio runtime; a current-thread runtime is
//! enough (the CNI plugin uses one per invocation).

mod addr;
mod error;
mod handle;
mod link;
mod neigh;
mod proto_route;
mod route;
mod vxlan;

pub use addr::Address;
pub use error::{Error, Result};
pub use handle::Netlink;
pub use link::{BridgeSpec, Link, LinkChange, Mac, VethSpec};
pub use neigh::{FdbEntry, Neighbour};
pub use proto_route::ProtoRoute;
pub use route::{RouteEntry, RouteSpec};
pub use vxlan::{Vxlan, VxlanSpec};
