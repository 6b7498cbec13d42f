//! The speaker: one session with one peer, reconnected after any failure, until shutdown.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::session::{Ended, Session};

/// How long a TCP connection to the peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The router this node peers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub addr: Ipv4Addr,
    /// 179 but in tests.
    pub port: u16,
    pub asn: u32,
}

/// What the speaker is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub local_asn: u32,
    pub peer: Peer,
    /// The hold time offered (the session uses the lower of the two sides'); keepalives go
    /// every third of it.
    pub hold_time: u16,
    /// The wait between a failed or ended session and the next connection.
    pub connect_retry: Duration,
    /// The network namespace to connect from; `None`: the agent's own (tests point it
    /// elsewhere).
    pub netns: Option<PathBuf>,
}

/// Announces the prefixes it is given to one peer: constructed with [`Speaker::new`],
/// started with [`Speaker::run`].
#[derive(Debug)]
pub struct Speaker {
    settings: Settings,
}

// === impl Speaker ===

impl Speaker {
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// Keeps a session up until `shutdown`, announcing the latest set `prefixes` holds
    /// (the next hop and router ID are the session's local address: the node's). On
    /// shutdown the session ends with a Cease NOTIFICATION.
    pub async fn run(
        self,
        mut prefixes: watch::Receiver<BTreeSet<Ipv4Net>>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        let peer = self.peer_addr();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let connected = tokio::select! {
                () = &mut shutdown => return Ok(()),
                c = self.connect() => c,
            };
            let failure = match connected {
                Ok(stream) => {
                    let session = Session::new(stream, &self.settings, peer);
                    match session.run(&mut prefixes, &mut shutdown).await {
                        Ok(Ended::Shutdown) => return Ok(()),
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            tracing::warn!(%peer, error = %failure, retry_secs = self.settings.connect_retry.as_secs_f32(),
                "bgp session down");
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(self.settings.connect_retry) => {}
            }
        }
    }

    fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from((self.settings.peer.addr, self.settings.peer.port))
    }

    /// A TCP connection to the peer, made inside the configured namespace (a socket stays
    /// in the namespace it was made in).
    async fn connect(&self) -> Result<TcpStream> {
        let peer = self.peer_addr();
        let io = |source| Error::Io { peer, source };
        let stream = match self.settings.netns.clone() {
            None => tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer))
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
                .map_err(io)?,
            Some(netns) => {
                let std = tokio::task::spawn_blocking(move || {
                    podnet_netns::run_in(&netns, || {
                        std::net::TcpStream::connect_timeout(&peer, CONNECT_TIMEOUT)
                    })
                })
                .await
                .map_err(|join| io(std::io::Error::other(join)))??
                .map_err(io)?;
                std.set_nonblocking(true).map_err(io)?;
                TcpStream::from_std(std).map_err(io)?
            }
        };
        // Messages are small and each one matters now (a withdrawal above all).
        stream.set_nodelay(true).map_err(io)?;
        Ok(stream)
    }
}
