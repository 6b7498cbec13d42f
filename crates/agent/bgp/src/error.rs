use crate::wire::Notification;

/// What ends a BGP session or keeps one from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bgp peer {peer}: {source}")]
    Io {
        peer: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
    #[error("bgp peer {peer}: malformed message: {reason} (sent NOTIFICATION {notification})")]
    Malformed {
        peer: std::net::SocketAddr,
        reason: String,
        notification: Notification,
    },
    #[error("bgp peer {peer}: it sent NOTIFICATION {notification}")]
    PeerNotification {
        peer: std::net::SocketAddr,
        notification: Notification,
    },
    #[error("bgp peer {peer}: {what} (sent NOTIFICATION {notification})")]
    Refused {
        peer: std::net::SocketAddr,
        what: String,
        notification: Notification,
    },
    #[error("bgp peer {peer}: the connection closed")]
    Closed { peer: std::net::SocketAddr },
    #[error("bgp peer {peer}: nothing heard for the hold time of {secs} s")]
    HoldTimerExpired {
        peer: std::net::SocketAddr,
        secs: u16,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
