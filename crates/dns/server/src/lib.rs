//! `podnet dns`: the cluster's name server, a drop-in for CoreDNS with the `kubernetes`
//! plugin.
//!
//! ```text
//!   Corefile (ConfigMap, file) ──parse──▶ Corefile ──▶ blocks: forward, cache, log …
//!   Services, EndpointSlices,  ──watch──▶ Catalog ──publish──▶ Snapshot (podnet-dns-records)
//!   Namespaces, Pods                                 │
//!   UDP threads (recvmmsg) ─┐                        ▼
//!   TCP tasks ──────────────┴──▶ Engine::handle: index │ cache ──miss──▶ forward (async)
//!   HTTP: /health /ready /metrics
//! ```
//!
//! Cluster names are answered from prepared bytes without leaving the receiving thread;
//! only queries that need an upstream become async tasks.

mod cache;
pub mod corefile;
mod engine;
mod error;
mod forward;
mod http;
mod metrics;
pub mod objects;
mod published;
mod server;
mod tcp;
mod udp;
pub mod watch;

pub use corefile::{Corefile, DEFAULT_COREFILE};
pub use error::{Error, Result};
pub use http::Endpoint;
pub use server::{Dns, DnsListener, Listeners, Shared};
