//! Cluster DNS as pure code: the records the Kubernetes DNS-Based Service Discovery
//! specification asks for, synthesised from the model (`podnet-k8s-model`'s `Dns*` types),
//! and the message path that answers from them.
//!
//! ```text
//! DnsService / DnsEndpointSlice / namespaces / DnsPod
//!        │  Catalog::upsert_* / delete_*   (per-object contributions, names marked dirty)
//!        ▼
//!   Catalog::publish() ──▶ Arc<Snapshot>   (sharded map: lower-cased wire name → Node with
//!        │                                  answers already encoded; only dirty shards copied)
//!        ▼
//!   answer(&Snapshot, &Query, &mut Vec<u8>) ──▶ Outcome (answered / not ours / CNAME to chase)
//! ```
//!
//! Nothing here does I/O: the server crate owns sockets, forwarding and the cache, and uses
//! [`wire`] for the messages it relays.

mod answer;
mod catalog;
mod config;
mod error;
mod records;
mod snapshot;
pub mod wire;

pub use answer::{Outcome, answer};
pub use catalog::Catalog;
pub use config::{PodMode, ZoneConfig};
pub use error::{Error, Result};
pub use snapshot::Snapshot;
pub use wire::{Name, Query, parse_query};
