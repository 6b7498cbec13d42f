//! What the workloads need from the system: the hostname (of the UTS namespace the pod was
//! given), listening sockets bound as Go binds `":PORT"`, and signals.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::{TcpListener, UdpSocket};
use tokio::signal::unix::{SignalKind, signal};

use crate::{Error, Result};

/// The hostname, read on every call as Go's `os.Hostname()` is.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Go's `":PORT"`: every address, IPv6 and IPv4 on one socket, or IPv4 only where the
/// namespace has no IPv6.
pub async fn listen_tcp_any(workload: &'static str, port: u16) -> Result<TcpListener> {
    let any6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    match TcpListener::bind(any6).await {
        Ok(l) => Ok(l),
        Err(e) if no_ipv6(&e) => {
            let any4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            TcpListener::bind(any4)
                .await
                .map_err(|e| Error::io(workload, format!("listen tcp :{port}"), e))
        }
        Err(e) => Err(Error::io(workload, format!("listen tcp :{port}"), e)),
    }
}

/// A UDP socket on `ip` (or every address, as [`listen_tcp_any`], when `ip` is `None`).
pub async fn bind_udp(workload: &'static str, ip: Option<IpAddr>, port: u16) -> Result<UdpSocket> {
    let what = |ip: &dyn std::fmt::Display| format!("listen udp {ip}:{port}");
    if let Some(ip) = ip {
        return UdpSocket::bind(SocketAddr::new(ip, port))
            .await
            .map_err(|e| Error::io(workload, what(&ip), e));
    }
    match UdpSocket::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)).await {
        Ok(s) => Ok(s),
        Err(e) if no_ipv6(&e) => {
            UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port))
                .await
                .map_err(|e| Error::io(workload, what(&""), e))
        }
        Err(e) => Err(Error::io(workload, what(&""), e)),
    }
}

fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::EAFNOSUPPORT | nix::libc::EADDRNOTAVAIL)
    )
}

/// A stream of SIGTERMs, registered now so that none is missed between start-up and waiting.
pub fn sigterm(workload: &'static str) -> Result<tokio::signal::unix::Signal> {
    signal(SignalKind::terminate()).map_err(|e| Error::io(workload, "handle SIGTERM", e))
}

/// A stream of SIGINTs (only `pause` handles them; the others die of SIGINT as Go programs do).
pub fn sigint(workload: &'static str) -> Result<tokio::signal::unix::Signal> {
    signal(SignalKind::interrupt()).map_err(|e| Error::io(workload, "handle SIGINT", e))
}

/// Whether the kernel can make SCTP sockets (this machine's cannot).
pub fn sctp_available() -> Result<(), io::Error> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
    socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Sctp,
    )
    .map(drop)
    .map_err(io::Error::from)
}

/// A line as Go's `log.Printf` writes it: `2009/11/10 23:00:00 text` on stderr, local time.
pub fn go_log(text: &str) {
    use std::io::Write;
    let now = jiff::Zoned::now().strftime("%Y/%m/%d %H:%M:%S");
    let _ = writeln!(std::io::stderr().lock(), "{now} {text}");
}
