//! How the API server reaches a kubelet. The server knows nothing of network namespaces:
//! whoever runs it may give a [`Dialer`] that connects from elsewhere (the lab daemon's
//! connects from inside the lab's fabric); the default is a plain TCP connect.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpStream;

/// A connection being made.
pub type Dialing = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Connects to a kubelet's address.
#[derive(Clone)]
pub struct Dialer(Arc<dyn Fn(SocketAddr) -> Dialing + Send + Sync>);

// === impl Dialer ===

impl Dialer {
    pub fn new(dial: impl Fn(SocketAddr) -> Dialing + Send + Sync + 'static) -> Self {
        Dialer(Arc::new(dial))
    }

    pub fn dial(&self, addr: SocketAddr) -> Dialing {
        (self.0)(addr)
    }
}

impl Default for Dialer {
    /// A TCP connection from the server's own network.
    fn default() -> Self {
        Dialer::new(|addr| Box::pin(TcpStream::connect(addr)))
    }
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Dialer")
    }
}

/// The same dialer (configurations compare equal when they share one).
impl PartialEq for Dialer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Dialer {}
