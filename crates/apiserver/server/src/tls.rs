//! TLS as a property of a listener: the server's certificate chain and key (PEM), served
//! through rustls with the ring provider, HTTP/1.1 over it; client certificates signed by
//! the client CA are asked for (not required), and a connection's verified certificate is
//! what [`ClientCert`] hands each request (kube-apiserver's `--client-ca-file`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::auth::{UserInfo, x509};

/// How long a client may take over its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a certificate and key cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate: {0}")]
    Certificate(String),
    #[error("TLS private key: {0}")]
    Key(String),
    #[error("TLS client CA: {0}")]
    ClientCa(String),
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// A listener the API server answers on: plain HTTP, or HTTPS.
pub enum Listener {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A connection whose handshake succeeded, and its peer.
type Established = (TlsStream<TcpStream>, SocketAddr);

pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    /// Handshakes under way: each connection's runs beside the others' and beside
    /// accepting, so that a slow or silent client holds up no one else.
    handshakes: FuturesUnordered<BoxFuture<'static, Option<Established>>>,
}

// === impl TlsListener ===

impl TlsListener {
    /// Serves `cert_pem` (the server's certificate, then its issuers) with `key_pem`; a
    /// client may present a certificate signed by `client_ca_pem` (one that is not, or is
    /// expired, fails the handshake, as with Go's `VerifyClientCertIfGiven`).
    pub fn new(
        tcp: TcpListener,
        cert_pem: &str,
        key_pem: &str,
        client_ca_pem: &str,
    ) -> Result<Self, TlsError> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsError::Certificate("no certificate in the PEM".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| TlsError::Key(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
            let ca = ca.map_err(|e| TlsError::ClientCa(e.to_string()))?;
            roots
                .add(ca)
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::ClientCa(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshakes: FuturesUnordered::new(),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((mut stream, addr)) => {
                        no_delay(&mut stream);
                        let handshake = handshake(self.acceptor.clone(), stream, addr);
                        self.handshakes.push(Box::pin(handshake));
                    }
                    Err(error) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(%error, "accepting a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(done) = self.handshakes.next(), if !self.handshakes.is_empty() => {
                    if let Some(established) = done {
                        return established;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// One connection's TLS handshake (None: it failed, timed out, or was plain HTTP, which
/// gets Go's answer).
async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    addr: SocketAddr,
) -> Option<Established> {
    if speaks_plain_http(&stream).await {
        refuse_plain_http(stream, addr).await;
        return None;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, addr)),
        Ok(Err(error)) => {
            tracing::debug!(%addr, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%addr, "TLS handshake timed out");
            None
        }
    }
}

/// What Go's HTTP server answers a plain-HTTP request on a TLS port (and so kube-apiserver).
const PLAIN_HTTP_REPLY: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Whether a connection opens with what Go's `tlsRecordHeaderLooksLikeHTTP` recognises: an
/// HTTP method where a TLS record header should be.
async fn speaks_plain_http(stream: &TcpStream) -> bool {
    let mut head = [0u8; 5];
    let peeked = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut head)).await;
    matches!(peeked, Ok(Ok(5)))
        && [&b"GET /"[..], b"HEAD ", b"POST ", b"PUT /", b"OPTIO"].contains(&&head[..])
}

async fn refuse_plain_http(mut stream: TcpStream, addr: SocketAddr) {
    use tokio::io::AsyncWriteExt as _;
    tracing::debug!(%addr, "plain HTTP on a TLS listener refused");
    let _ = stream.write_all(PLAIN_HTTP_REPLY).await;
    let _ = stream.shutdown().await;
}

/// The user a connection's client certificate names (None: it presented none), found
/// once per connection and given to each of its requests as axum's `ConnectInfo`.
#[derive(Clone, Debug)]
pub struct ClientCert(pub Option<UserInfo>);

impl Connected<IncomingStream<'_, TlsListener>> for ClientCert {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let (_, connection) = stream.io().get_ref();
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first());
        ClientCert(leaf.and_then(|der| match x509::user_of(der) {
            Ok(user) => Some(user),
            Err(error) => {
                // The chain verified, so this is a certificate we cannot read a name from.
                tracing::debug!(%error, "client certificate without a usable subject");
                None
            }
        }))
    }
}

/// Disables Nagle's algorithm on an accepted connection (see [`crate::serve_on`]'s listeners).
pub(crate) fn no_delay(stream: &mut TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "setting TCP_NODELAY");
    }
}

// === impl Listener ===

impl Listener {
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Listener::Plain(l) => l.local_addr(),
            Listener::Tls(l) => l.tcp.local_addr(),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener::Plain(l)
    }
}
