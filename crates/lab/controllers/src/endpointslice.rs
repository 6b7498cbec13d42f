//! The EndpointSlice controller, as upstream's: each Service with a selector gets slices
//! listing its pods.
//!
//! - [`endpoint`]: one pod as an endpoint (conditions, hostname, ports); [`plan`]: the slices
//!   of one Service (pure).
//! - This file: the loop (kube-rs `Controller` over Services, owning EndpointSlices and
//!   watching Pods, mapped to the Services that select them).

pub mod endpoint;
pub mod plan;
