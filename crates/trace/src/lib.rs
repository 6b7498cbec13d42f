//! `podnet trace`: one packet's path, walked layer by layer from the API objects, naming
//! the first layer that breaks it and the evidence.
//!
//! ```text
//! Pods, Services, EndpointSlices, Nodes, NetworkPolicies, Namespaces  (one list each)
//!        │
//!        ▼  SRC, DST[:PORT][/proto]  (address)
//!  dns ──▶ entry ──▶ endpoints ──▶ proxy ──▶ policy ──▶ routing ──▶ return   (layer::*)
//!  records   ETP     selector,     the proxy's   the policy   the routing    conntrack,
//!  (dns      Local   readiness     rendering +   evaluator    crate's        masquerade
//!  crate)                          nft tracer                 desired state
//! ```
//!
//! Nothing is reimplemented: each layer asks the crate that computes that layer for the
//! agent (so the trace says what the agent would do), and nothing here does I/O except
//! [`Objects::load`].

mod address;
mod error;
mod layer;
mod objects;
mod report;
mod walk;

pub use address::{Destination, Protocol, Spec};
pub use error::{Error, Result};
pub use objects::Objects;
pub use report::{Layer, LayerName, Report, Verdict};
pub use walk::{Options, trace};

#[cfg(any(test, feature = "test-util"))]
pub mod fixture;
#[cfg(test)]
mod tests;
