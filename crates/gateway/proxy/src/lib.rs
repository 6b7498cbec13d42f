//! `podnet gateway`'s data plane: an HTTP/1.1 and HTTP/2 proxy (WebSocket upgrades
//! included, TLS terminated with the certificate the client's SNI names) that routes each
//! request through the router's [`Table`](podnet_gateway_router::Table) straight to a ready
//! endpoint of the chosen Service port, spreading requests and retrying a refused connect on
//! another endpoint.
//!
//! Its whole configuration is one [`Config`] value behind a `tokio::sync::watch` channel:
//! each request reads the latest one, so a change applies at once and never drops an open
//! connection.

mod config;
mod error;
mod forward;
mod headers;
mod metrics;
mod server;
mod tls;

pub use config::{Config, Settings};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use rustls::sign::CertifiedKey;
pub use server::{Listen, Proxy};
pub use tls::{Certificates, certified_key};
