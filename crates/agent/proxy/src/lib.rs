//! The service proxy: kube-proxy's job, in `podnet agent`.
//!
//! ```text
//! Services + EndpointSlices ──▶ ServiceState ──(dirty Services)──▶ Plan::update ──▶ PortChange…
//!  (podnet-k8s-model types)      (tracker)                          (pure, per port)      │
//!                                                                                         ▼
//!                                  Engine::sync ──▶ Backend::sync (nftables here; iptables/ipvs
//!                                       │            in podnet-agent-proxy-iptables) ──▶ kernel
//!                                       └──▶ conntrack: stale UDP flows flushed
//! ```
//!
//! The plan ([`plan`]) decides everything that is the same in every mode: which endpoints
//! each path uses (traffic policies, topology, terminating fallback), when to reject or
//! drop, what gets masqueraded. Modes only render it.

mod backend;
mod engine;
mod error;
pub mod fixture;
pub mod nftables;
mod node;
pub mod plan;
mod stale;
mod state;

pub use backend::{Backend, SyncKind, SyncPhases, SyncStats};
pub use engine::{Engine, SyncReport};
pub use error::{Error, Result};
pub use node::{NodeInfo, NodePortAddressConfig, NodePortAddresses, family_of};
pub use plan::{HealthCheck, Plan, PortChange, PortKey, PortPlan, Target};
pub use stale::stale_flows;
pub use state::{ServiceState, SliceKey};
