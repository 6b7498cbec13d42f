//! Cross-node routing and egress for the node agent, as flannel's `vxlan` and `host-gw`
//! backends do it, in podnet's shape:
//!
//! ```text
//! [NodeRoute] ──desired()──▶ Desired ──plan(observed)──▶ Plan ──Kernel::apply──▶ netlink
//!   (model)        pure          pure                     pure                 └─▶ nft
//! ```
//!
//! - [`desired`] turns every Node into the routes, neighbour and FDB entries and the egress
//!   ruleset this node must have; [`Desired`]'s `Display` is the debug view the golden files
//!   hold.
//! - [`plan`] diffs that against what the kernel has — only podnet's own objects: routes
//!   carrying [`ROUTE_PROTOCOL`], the VXLAN device's permanent neighbours and FDB entries —
//!   and [`Kernel`] applies just the difference. Applying twice changes nothing.
//! - [`Reconciler`] strings the steps together for one namespace; the agent calls it after
//!   the initial list of Nodes is complete, on every change, and on a periodic resync that
//!   repairs whatever was changed behind its back.
//!
//! IPv4 only for now: IPv6 pod CIDRs and node addresses are ignored.

mod config;
mod desired;
mod egress;
mod error;
mod kernel;
mod plan;
mod reconcile;
mod vtep;

pub use config::{
    Config, EGRESS_TABLE, Mode, ROUTE_PROTOCOL, VXLAN_DEVICE, VXLAN_OVERHEAD, VXLAN_PORT, VXLAN_VNI,
};
pub use desired::{Desired, Fdb, LocalNode, Neighbour, Route, VxlanDevice, desired};
pub use egress::Egress;
pub use error::{Error, Result};
pub use kernel::Kernel;
pub use plan::{Observed, ObservedRoute, Plan, plan};
pub use reconcile::{Outcome, Reconciler};
pub use vtep::VtepMac;
