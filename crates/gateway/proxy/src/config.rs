//! What the proxy serves, as one immutable value the controller replaces as a whole.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use podnet_gateway_router::{Backend, Table};

use crate::tls::Certificates;

/// One generation of the gateway's configuration.
#[derive(Debug, Default)]
pub struct Config {
    pub table: Table,
    /// Ready endpoints of each Service port routes name.
    pub endpoints: HashMap<Backend, Vec<SocketAddr>>,
    /// Certificates for TLS listeners, by host.
    pub certificates: Certificates,
    /// Every watched kind has been listed once: `/readyz` answers 200 from then on.
    pub synced: bool,
}

/// Limits that do not change with the objects.
#[derive(Clone, Debug)]
pub struct Settings {
    /// From a request's end to the upstream's response headers; then 504.
    pub request_timeout: Duration,
    /// A client connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Connecting to one endpoint; a refused or timed-out connect tries the next.
    pub connect_timeout: Duration,
    /// Largest request body; a larger one is answered 413.
    pub max_body_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            request_timeout: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            max_body_bytes: 64 << 20,
        }
    }
}
