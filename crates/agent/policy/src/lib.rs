//! NetworkPolicy and ClusterNetworkPolicy enforcement for `podnet agent`: the normalised
//! policy model, a pure evaluator that explains each verdict, and rendering onto podnet-nft.
//!
//! ```text
//! NetworkPolicy, ClusterNetworkPolicy, Pod, Namespace, Node ──from_k8s──▶ Cluster ──evaluate──▶ Decision (which rule, or none)
//!                                                    └──render(node)──▶ table inet podnet-policy
//! ```

mod cidr;
pub mod cluster;
pub mod cluster_policy;
mod counters;
mod enforce;
mod error;
pub mod evaluate;
#[cfg(feature = "test-util")]
pub mod fixture;
pub mod from_k8s;
pub mod model;
pub mod render;
pub mod selector;

pub use cluster::Cluster;
pub use cluster_policy::{Action, ClusterNetworkPolicy, ClusterTier};
pub use counters::Counters;
pub use enforce::{Enforcer, SyncReport};
pub use error::{Error, Result};
pub use evaluate::{Decision, Flow, Tier, Verdict, evaluate};
pub use model::{Direction, NetworkPolicy, ObjectRef, Pod, Protocol};
pub use selector::LabelSelector;
