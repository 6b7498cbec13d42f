//! agnhost's `serve-hostname`: the hostname over HTTP (any path), or written raw to each TCP
//! connection, or sent back to each UDP datagram — the classic "which backend answered"
//! server of Service tests.
//!
//! As upstream, SIGTERM does not stop it: it keeps serving while it "awaits pod deletion" and
//! exits 0 after 60 s (the kubelet's SIGKILL at the end of the grace period usually comes first).

use std::time::Duration;

use hyper::StatusCode;
use hyper::header::{CONNECTION, HeaderValue};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::info;

use crate::args::ServeHostnameArgs;
use crate::http::{self, Stop, Stopper};
use crate::{Error, Result, go, sys};

const WORKLOAD: &str = "serve-hostname";
const AWAIT_DELETION: Duration = Duration::from_secs(60);

pub async fn run(args: ServeHostnameArgs) -> Result<i32> {
    if args.http && (args.tcp || args.udp) {
        return Err(Error::Args {
            subcommand: WORKLOAD.to_owned(),
            message: "Can't server TCP/UDP mode and HTTP mode at the same time (add --http=false)"
                .to_owned(),
        });
    }
    let mut sigterm = sys::sigterm(WORKLOAD)?;
    let (stops, stop_rx) = mpsc::unbounded_channel();
    if args.tcp {
        let listener = sys::listen_tcp_any(WORKLOAD, args.port).await?;
        tokio::spawn(serve_tcp(listener, stops.clone()));
    }
    if args.udp {
        let socket = sys::bind_udp(WORKLOAD, None, args.port).await?;
        tokio::spawn(serve_udp(socket, stops.clone()));
    }
    let mut listeners = Vec::new();
    if args.http {
        listeners.push(sys::listen_tcp_any(WORKLOAD, args.port).await?);
    }
    let close = args.close;
    let handler = http::handler(move |peer, _req| async move {
        info!(peer = %go::addr_string(peer), "HTTP request");
        let mut resp = http::text(StatusCode::OK, sys::hostname());
        if close {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(resp)
    });
    info!(port = args.port, "Serving");
    tokio::spawn(async move {
        sigterm.recv().await;
        info!("Shutting down after receiving signal: terminated. Awaiting pod deletion.");
        tokio::time::sleep(AWAIT_DELETION).await;
        let _ = stops.send(Stop::Exit(0));
    });
    http::serve(listeners, handler, stop_rx).await
}

async fn serve_tcp(listener: TcpListener, stops: Stopper) {
    let error = loop {
        match listener.accept().await {
            Ok((mut stream, peer)) => {
                info!(peer = %go::addr_string(peer), "TCP request");
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let _ = stream.write_all(sys::hostname().as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
            Err(e) => break Error::io(WORKLOAD, "accept", e),
        }
    };
    let _ = stops.send(Stop::Fatal(error));
}

async fn serve_udp(socket: UdpSocket, stops: Stopper) {
    // Upstream reads into 16 bytes: what is sent does not matter, only that something was.
    let mut buf = [0u8; 16];
    let error = loop {
        match socket.recv_from(&mut buf).await {
            Ok((_, peer)) => {
                info!(peer = %go::addr_string(peer), "UDP request");
                let _ = socket.send_to(sys::hostname().as_bytes(), peer).await;
            }
            Err(e) => break Error::io(WORKLOAD, "read udp", e),
        }
    };
    let _ = stops.send(Stop::Fatal(error));
}
