//! The HTTP endpoints a kubelet and Prometheus use: `/health` (CoreDNS's `health`), `/ready`
//! (`ready`: 200 once the cluster objects are listed, 503 naming what is not ready before),
//! `/metrics` (`prometheus`). A minimal HTTP/1.1 server: GET, one request per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;

use crate::server::Shared;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Health,
    Ready,
    Metrics,
}

pub async fn serve(
    listener: TcpListener,
    endpoints: Vec<Endpoint>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let endpoints: Arc<[Endpoint]> = endpoints.into();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let (shared, endpoints) = (shared.clone(), endpoints.clone());
        tokio::spawn(async move {
            let _ = timeout(Duration::from_secs(5), request(stream, &endpoints, &shared)).await;
        });
    }
}

async fn request(mut s: TcpStream, endpoints: &[Endpoint], shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await?;
        if n == 0 || buf.len() > 8192 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == b'\r').unwrap_or(0)])
        .into_owned();
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, body, ctype) = match (method, path) {
        ("GET" | "HEAD", "/health") if endpoints.contains(&Endpoint::Health) => {
            (200, "OK".to_owned(), "text/plain")
        }
        ("GET" | "HEAD", "/ready") if endpoints.contains(&Endpoint::Ready) => {
            let not_ready = shared.not_ready();
            if not_ready.is_empty() {
                (200, "OK".to_owned(), "text/plain")
            } else {
                (503, not_ready.join(","), "text/plain")
            }
        }
        ("GET" | "HEAD", "/metrics") if endpoints.contains(&Endpoint::Metrics) => (
            200,
            shared.render_metrics(),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        ("GET" | "HEAD", _) => (404, "404 page not found\n".to_owned(), "text/plain"),
        _ => (405, "method not allowed\n".to_owned(), "text/plain"),
    };
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        s.write_all(body.as_bytes()).await?;
    }
    s.shutdown().await
}
