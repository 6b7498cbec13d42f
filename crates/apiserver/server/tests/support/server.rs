//! A server on 127.0.0.1 for tests, restartable on the same port and state directory,
//! speaking HTTPS as the lab's does: a test CA made once per test binary signs its
//! certificate and the admin's client certificate (`kubernetes-admin` in `system:masters`)
//! that [`TestServer::client`], [`TestServer::raw`] and kubectl's kubeconfig present.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The tests' CA, the server's certificate (127.0.0.1, localhost) and the admin's.
pub struct TestPki {
    pub ca_pem: String,
    ca_key_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin: Credentials,
}

/// A client certificate and its key, PEM.
#[derive(Clone)]
pub struct Credentials {
    pub cert_pem: String,
    pub key_pem: String,
}

fn ca_params() -> rcgen::CertificateParams {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "podnet-test-ca");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca
}

/// The PKI of every server this test binary starts.
pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params().self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params(), &ca_key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let sans = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let server = rcgen::CertificateParams::new(sans)
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        let mut pki = TestPki {
            ca_pem: ca.pem(),
            ca_key_pem: ca_key.serialize_pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            admin: Credentials {
                cert_pem: String::new(),
                key_pem: String::new(),
            },
        };
        pki.admin = pki.issue("kubernetes-admin", Some("system:masters"));
        pki
    })
}

impl TestPki {
    /// A client certificate for `user` (CN) in `group` (O), signed by the test CA.
    pub fn issue(&self, user: &str, group: Option<&str>) -> Credentials {
        let ca_key = rcgen::KeyPair::from_pem(&self.ca_key_pem).unwrap();
        let issuer = rcgen::Issuer::new(ca_params(), &ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, user);
        if let Some(group) = group {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, group);
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        Credentials {
            cert_pem: params.signed_by(&key, &issuer).unwrap().pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// `config` presenting `credentials`.
pub fn with_credentials(mut config: kube::Config, credentials: &Credentials) -> kube::Config {
    let b64 = base64::engine::general_purpose::STANDARD;
    config.auth_info.client_certificate_data = Some(b64.encode(&credentials.cert_pem));
    config.auth_info.client_key_data = Some(b64.encode(&credentials.key_pem).into());
    config
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub config: podnet_apiserver::Config,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(podnet_apiserver::Config::default()).await
    }

    pub async fn start_with(config: podnet_apiserver::Config) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_at("127.0.0.1:0".parse().unwrap(), &dir, config).await;
        s._tmp = Some(tmp);
        s
    }

    pub async fn start_at(addr: SocketAddr, dir: &Path, config: podnet_apiserver::Config) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pki = pki();
        let listener = podnet_apiserver::tls::TlsListener::new(
            listener,
            &pki.server_cert_pem,
            &pki.server_key_pem,
            &pki.ca_pem,
        )
        .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let state = dir.to_path_buf();
        let served = config.clone();
        let task = tokio::spawn(async move {
            let listeners = vec![podnet_apiserver::tls::Listener::Tls(listener)];
            podnet_apiserver::serve_on(listeners, &state, &served, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            addr,
            dir: dir.to_path_buf(),
            config,
            stop: Some(tx),
            task: Some(task),
            _tmp: None,
        }
    }

    /// Stops the server and starts it again on the same port and state directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        let again = Self::start_at(self.addr, &self.dir, self.config.clone()).await;
        self.stop = again.stop;
        self.task = again.task;
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A client config trusting the server, without credentials (`system:anonymous`).
    pub fn config(&self) -> kube::Config {
        let mut config = kube::Config::new(self.url().parse().unwrap());
        let ca = CertificateDer::from_pem_slice(pki().ca_pem.as_bytes()).unwrap();
        config.root_cert = Some(vec![ca.to_vec()]);
        config
    }

    /// A client as the admin.
    pub fn client(&self) -> kube::Client {
        kube::Client::try_from(with_credentials(self.config(), &pki().admin)).unwrap()
    }

    /// A TLS connection as the admin, for requests written by hand.
    pub async fn connect(&self) -> TlsStream<TcpStream> {
        let pki = pki();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let chain = vec![CertificateDer::from_pem_slice(pki.admin.cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(pki.admin.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::from(self.addr.ip());
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap()
    }

    /// One HTTP/1.1 request as the admin, for what kube-rs does not expose (Status causes).
    pub async fn raw(&self, method: &str, path: &str, ct: &str, body: &str) -> (u16, Value) {
        let mut s = self.connect().await;
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        read_to_close(&mut s, &mut out).await;
        let out = String::from_utf8(out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let code = head[9..12].parse().unwrap();
        (code, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// Reads until the server closes; a close without TLS's close_notify is a close too.
pub async fn read_to_close(s: &mut TlsStream<TcpStream>, out: &mut Vec<u8>) {
    match s.read_to_end(out).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("reading the response: {e}"),
    }
}
