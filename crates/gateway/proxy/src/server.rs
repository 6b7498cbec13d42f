//! Listeners: the proxy's (plain or TLS, HTTP/1.1 and HTTP/2 on each) and the admin one
//! (`/metrics`, `/healthz`, `/readyz`). Each connection is served until it ends or the
//! shutdown signal asks it to finish its requests and close.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::config::{Config, Settings};
use crate::error::{Error, Result};
use crate::forward::{self, Body, Conn};
use crate::metrics::Metrics;

/// One proxy listener.
#[derive(Clone, Copy, Debug)]
pub struct Listen {
    /// The port routes attach to (a Gateway listener's `port`; 80 and 443 in the lab),
    /// whatever port the socket is bound to.
    pub port: u16,
    /// Terminate TLS (certificates by SNI from the configuration).
    pub tls: bool,
}

pub(crate) struct Inner {
    pub(crate) config: watch::Receiver<Arc<Config>>,
    pub(crate) settings: Settings,
    pub(crate) metrics: Metrics,
    pub(crate) client: Client<HttpConnector, Body>,
    /// Round-robin position over endpoints, shared by every backend.
    pub(crate) next: AtomicUsize,
}

/// The proxy: cheap to clone, one per process.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

impl Proxy {
    pub fn new(config: watch::Receiver<Arc<Config>>, settings: Settings) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(settings.connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.idle_timeout)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Proxy {
            inner: Arc::new(Inner {
                config,
                settings,
                metrics: Metrics::default(),
                client,
                next: AtomicUsize::new(0),
            }),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Serves `listener` until `shutdown` turns true; open connections then finish their
    /// requests.
    pub async fn serve(
        &self,
        listener: TcpListener,
        listen: Listen,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        let addr = local_addr(&listener)?;
        let acceptor = listen
            .tls
            .then(|| TlsAcceptor::from(crate::tls::server_config(self.inner.config.clone())));
        tracing::info!(%addr, port = listen.port, tls = listen.tls, "proxy listening");
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(source) => {
                        // Out of descriptors and the like: keep serving the others.
                        tracing::warn!(%addr, error = %source, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stopped(&mut shutdown) => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let inner = self.inner.clone();
            let acceptor = acceptor.clone();
            let shutdown = shutdown.clone();
            let conn = Conn {
                peer,
                port: listen.port,
                scheme: if listen.tls { "https" } else { "http" },
            };
            tokio::spawn(async move {
                match acceptor {
                    None => serve_connection(inner, conn, stream, shutdown).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(tls) => serve_connection(inner, conn, tls, shutdown).await,
                        Err(error) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    },
                }
            });
        }
    }

    /// `/metrics` (Prometheus), `/healthz` (the process runs) and `/readyz` (every watched
    /// kind has been listed) until `shutdown` turns true.
    pub async fn serve_admin(
        &self,
        listener: TcpListener,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<()> {
        let addr = local_addr(&listener)?;
        tracing::info!(%addr, "admin listening");
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted.map_err(|source| Error::Accept { addr, source })?,
                () = stopped(&mut shutdown) => return Ok(()),
            };
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let inner = inner.clone();
                    async move { Ok::<_, Infallible>(admin(&inner, req.uri().path())) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone). The watched value's guard
/// stays inside: it must not live across an await of a spawned task.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn local_addr(listener: &TcpListener) -> Result<SocketAddr> {
    listener.local_addr().map_err(|source| Error::Io {
        what: "a listener's address",
        source,
    })
}

fn admin(inner: &Inner, path: &str) -> Response<Full<Bytes>> {
    let (status, body) = match path {
        "/metrics" => (StatusCode::OK, inner.metrics.render()),
        "/healthz" => (StatusCode::OK, "ok\n".to_owned()),
        "/readyz" if inner.config.borrow().synced => (StatusCode::OK, "ok\n".to_owned()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "not synced\n".to_owned()),
        _ => (StatusCode::NOT_FOUND, "404 page not found\n".to_owned()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp
}

async fn serve_connection<S>(
    inner: Arc<Inner>,
    conn: Conn,
    stream: S,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(inner.settings.idle_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(inner.settings.idle_timeout / 2);
    let service = service_fn(move |req: Request<Incoming>| {
        let inner = inner.clone();
        async move { Ok::<_, Infallible>(forward::handle(&inner, conn, req).await) }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        r = connection.as_mut() => r,
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(peer = %conn.peer, %error, "connection ended with an error");
    }
}
