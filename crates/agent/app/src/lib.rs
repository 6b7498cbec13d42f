//! The node agent (`podnet agent`): watches the cluster's Nodes through kube-rs and keeps
//! this node's cross-node routing and egress in step with them; and, side by side, the
//! service proxy ([`proxy`]: Services and EndpointSlices → kube-proxy's rules, /healthz,
//! /metrics, health-check node ports); and, when given a peer, the BGP speaker ([`bgp`]:
//! LoadBalancer addresses and, in `routingMode: bgp`, the pod CIDR announced to a router).
//!
//! ```text
//! watcher(Nodes) ──▶ NodeStore ──(complete list)──▶ Reconciler::reconcile ──▶ kernel
//!                                  ▲ on change, and every resync period
//! ```
//!
//! The same code runs in a real cluster (host network namespace, in-cluster or kubeconfig
//! credentials) and in the lab (started inside the node's namespace, the lab's kubeconfig).
//! Nothing is programmed before the first complete list of Nodes: a partial list would
//! remove the routes of the nodes not listed yet.

mod agent;
pub mod bgp;
mod client;
mod command;
mod error;
mod events;
pub mod policy;
pub mod proxy;
mod store;

pub use agent::{Agent, Settings};
pub use bgp::BgpSettings;
pub use client::client;
pub use command::main;
pub use error::{Error, Result};
/// The L2 announcer (its settings are part of the agent's).
pub use podnet_agent_announce as announce;
pub use proxy::{ProxyMode, ProxySettings};
pub use store::NodeStore;
