//! netexec's UDP server: one datagram in, one answer out. Commands are trimmed and lowercased
//! (so `echo` answers in lower case, as upstream): `hostname`, `echo MSG`, `clientip`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::UdpSocket;
use tracing::{info, warn};

use super::{State, WORKLOAD};
use crate::http::Stop;
use crate::{Error, go, sys};

/// Serves until the socket fails; a failure stops the process (upstream's `log.Fatal`).
pub async fn serve(socket: UdpSocket, state: Arc<State>) {
    let local = socket.local_addr().map(go::addr_string).unwrap_or_default();
    info!(%local, "Started UDP server");
    // Readiness means "the UDP server runs" for /healthz and /readyz.
    state.ready.store(true, Ordering::SeqCst);
    let failure = answer_forever(&socket).await;
    state.ready.store(false, Ordering::SeqCst);
    info!(%local, "UDP server exited");
    let _ = state.stops.send(Stop::Fatal(failure));
}

async fn answer_forever(socket: &UdpSocket) -> Error {
    let mut buf = [0u8; 2048];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => return Error::io(WORKLOAD, "failed accepting UDP connections", e),
        };
        let Some(answer) = answer(&buf[..n], peer) else {
            continue;
        };
        if let Err(e) = socket.send_to(answer.as_bytes(), peer).await {
            return Error::io(WORKLOAD, format!("failed to write to UDP client {peer}"), e);
        }
    }
}

/// The answer to one datagram, `None` for an unknown or empty command.
pub fn answer(datagram: &[u8], peer: SocketAddr) -> Option<String> {
    let text = String::from_utf8_lossy(datagram).trim().to_lowercase();
    if text == "hostname" {
        info!(peer = %go::addr_string(peer), "Sending udp hostName response");
        return Some(sys::hostname());
    }
    if let Some(msg) = text.strip_prefix("echo ") {
        info!(peer = %go::addr_string(peer), msg, "Echoing to UDP client");
        return Some(msg.to_owned());
    }
    if text == "clientip" {
        info!(peer = %go::addr_string(peer), "Sending clientip back to UDP client");
        return Some(go::addr_string(peer));
    }
    if !text.is_empty() {
        warn!(peer = %go::addr_string(peer), command = %text, "Unknown UDP command received");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_trimmed_and_lowercased() {
        let peer: SocketAddr = "[::ffff:10.1.2.3]:5555".parse().unwrap();
        assert_eq!(
            answer(b"echo Hello World\n", peer).as_deref(),
            Some("hello world")
        );
        assert_eq!(
            answer(b" CLIENTIP ", peer).as_deref(),
            Some("10.1.2.3:5555")
        );
        assert_eq!(answer(b"hostname", peer), Some(sys::hostname()));
        assert_eq!(
            answer(b"echo", peer),
            None,
            "no space: not the echo command"
        );
        assert_eq!(answer(b"bogus", peer), None);
        assert_eq!(answer(b"", peer), None);
    }
}
