//! TLS termination: certificates from PEM (a `kubernetes.io/tls` Secret's `tls.crt` and
//! `tls.key`), chosen per connection by the client's SNI from the configuration current
//! at the handshake.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::{Error, Result};

/// Certificates by the host names they serve.
#[derive(Clone, Debug, Default)]
pub struct Certificates {
    /// `foo.example.com`.
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` as `.example.com`: one label before it.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// For clients that send no SNI, or a name nothing above serves.
    fallback: Option<Arc<CertifiedKey>>,
}

impl Certificates {
    /// Serves `key` for `host` (`*.example.com` for a wildcard); the first certificate
    /// added is also the fallback. An earlier entry for the same host is kept (the older
    /// object wins, as for routes).
    pub fn add(&mut self, host: &str, key: Arc<CertifiedKey>) {
        let host = host.to_ascii_lowercase();
        let map = match host.strip_prefix('*') {
            Some(suffix) => self.wildcard.entry(suffix.to_owned()),
            None => self.exact.entry(host),
        };
        map.or_insert_with(|| key.clone());
        self.fallback.get_or_insert(key);
    }

    pub fn is_empty(&self) -> bool {
        self.fallback.is_none()
    }

    /// The certificate for a client's SNI.
    pub fn find(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(sni) = sni.map(str::to_ascii_lowercase) else {
            return self.fallback.clone();
        };
        self.exact
            .get(&sni)
            .or_else(|| {
                sni.split_once('.')
                    .and_then(|(_, parent)| self.wildcard.get(&format!(".{parent}")))
            })
            .or(self.fallback.as_ref())
            .cloned()
    }
}

/// A certificate chain and its private key from PEM; `what` names the source in errors.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8], what: &str) -> Result<Arc<CertifiedKey>> {
    let bad = |reason: String| Error::Certificate {
        what: what.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("tls.crt: {e}")))?;
    if chain.is_empty() {
        return Err(bad("tls.crt holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| bad(format!("tls.key: {e}")))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| bad(format!("tls.key: {e}")))?;
    Ok(Arc::new(CertifiedKey::new(chain, signing)))
}

/// Picks the certificate from the configuration current at each handshake.
#[derive(Debug)]
pub(crate) struct SniResolver {
    pub(crate) config: watch::Receiver<Arc<Config>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let config = self.config.borrow().clone();
        let found = config.certificates.find(hello.server_name());
        if found.is_none() {
            tracing::debug!(
                sni = hello.server_name(),
                "no certificate for the handshake"
            );
        }
        found
    }
}

/// A TLS server configuration with SNI from `config` and ALPN for HTTP/2 and HTTP/1.1.
pub(crate) fn server_config(config: watch::Receiver<Arc<Config>>) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver { config }));
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(tls)
}
