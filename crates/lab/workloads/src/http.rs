//! The HTTP side shared by netexec and serve-hostname: an HTTP/1.1 server over bound
//! listeners that runs until a [`Stop`] arrives, and responses written the way Go's net/http
//! writes them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::duration::go_duration_string;
use crate::{Error, Result};

pub type Body = Full<Bytes>;

/// Why a process stops serving.
#[derive(Debug)]
pub enum Stop {
    /// Exit now with this status, in-flight requests unanswered (Go's `os.Exit`).
    Exit(i32),
    /// Stop accepting, let open connections finish for at most `timeout`, then exit.
    Graceful { code: i32, timeout: Duration },
    /// A server failed (Go's `log.Fatal`): exit 1 with this error.
    Fatal(Error),
}

/// Where handlers and servers send their [`Stop`].
pub type Stopper = mpsc::UnboundedSender<Stop>;

/// Drops the connection without an answer, as a Go handler that panics does.
#[derive(Debug)]
pub struct Abort;

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("handler aborted the connection")
    }
}

impl std::error::Error for Abort {}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Abort>> + Send>>;

/// A request handler: the client's address and the request.
pub type Handler = Arc<dyn Fn(SocketAddr, Request<Incoming>) -> HandlerFuture + Send + Sync>;

/// Serves `handler` on every listener until a [`Stop`] arrives on `stops`; returns the exit
/// status. With no listener it only waits for the stop.
pub async fn serve(
    listeners: Vec<TcpListener>,
    handler: Handler,
    mut stops: mpsc::UnboundedReceiver<Stop>,
) -> Result<i32> {
    let graceful = GracefulShutdown::new();
    loop {
        tokio::select! {
            stop = stops.recv() => {
                // All senders gone cannot happen while `serve` runs (the caller keeps one),
                // but if it did there would be nothing left to wait for.
                let stop = stop.unwrap_or(Stop::Exit(0));
                return finish(stop, listeners, graceful).await;
            }
            (accepted, _) = accept_any(&listeners) => match accepted {
                Ok((stream, peer)) => {
                    let handler = handler.clone();
                    let svc = service_fn(move |req| handler(peer, req));
                    // Header names as Go, nginx, Apache and gunicorn write them: Content-Type.
                    let conn = http1::Builder::new()
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), svc);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        if let Err(error) = conn.await {
                            debug!(%peer, %error, "http connection ended");
                        }
                    });
                }
                Err(error) => {
                    // EMFILE and the like: Go's server backs off and retries, so do we.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

async fn finish(
    stop: Stop,
    listeners: Vec<TcpListener>,
    graceful: GracefulShutdown,
) -> Result<i32> {
    match stop {
        Stop::Exit(code) => Ok(code),
        Stop::Fatal(e) => Err(e),
        Stop::Graceful { code, timeout } => {
            drop(listeners);
            let result = tokio::time::timeout(timeout, graceful.shutdown()).await;
            let outcome = if result.is_ok() {
                "<nil>".to_owned()
            } else {
                format!(
                    "context deadline exceeded after {}",
                    go_duration_string(timeout)
                )
            };
            info!(%outcome, "Graceful shutdown completed");
            Ok(code)
        }
    }
}

async fn accept_any(
    listeners: &[TcpListener],
) -> (std::io::Result<(tokio::net::TcpStream, SocketAddr)>, usize) {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    let (res, idx, _) =
        futures::future::select_all(listeners.iter().map(|l| Box::pin(l.accept()))).await;
    (res, idx)
}

// === responses as net/http writes them ===

/// A text body, typed as Go's content sniffing types plain text.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// `http.Error`: the message and a newline, marked not to be sniffed.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    let mut resp = text(status, format!("{message}\n"));
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A status with no body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// Wraps a handler function into a [`Handler`].
pub fn handler<F, Fut>(f: F) -> Handler
where
    F: Fn(SocketAddr, Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Body>, Abort>> + Send + 'static,
{
    Arc::new(move |peer, req| Box::pin(f(peer, req)))
}

/// Never resolves: for handlers whose process is about to exit without answering.
pub async fn never() -> Result<Response<Body>, Abort> {
    std::future::pending().await
}
