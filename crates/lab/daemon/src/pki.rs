//! The lab's identity material, made once per lab in `STATE_DIR/pki` and kept across
//! restarts: a CA (`ca.crt`/`ca.key`), the API server's certificate signed by it for every
//! name and address the server is reached by, the service-account signing key (the API
//! server makes `sa.key` itself), and the admin's bearer token.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::DaemonError;

/// The names and addresses in the API server's certificate: the `kubernetes` Service's
/// DNS names and ClusterIP, the fabric address the nodes use, and loopback.
pub const API_SERVER_SANS: &[&str] = &[
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    "10.96.0.1",
    "172.18.0.1",
    "127.0.0.1",
];

/// The user the admin's token authenticates as (kind's admin user), a superuser.
pub const ADMIN_USER: &str = "kubernetes-admin";

pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub admin_token: String,
}

// === impl Pki ===

impl Pki {
    /// The lab's material in `dir`, made (all of it, together) when any of it is missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, DaemonError> {
        let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
        if let (Some(ca_pem), Some(server_cert_pem), Some(server_key_pem), Some(token)) = (
            read("ca.crt"),
            read("apiserver.crt"),
            read("apiserver.key"),
            read("admin.token"),
        ) {
            return Ok(Pki {
                dir: dir.to_path_buf(),
                ca_pem,
                server_cert_pem,
                server_key_pem,
                admin_token: token.trim().to_string(),
            });
        }
        let made = Self::generate(dir)?;
        fs::create_dir_all(dir).map_err(DaemonError::io(dir))?;
        write_private(&dir.join("ca.key"), &made.1)?;
        write_private(&dir.join("apiserver.key"), &made.0.server_key_pem)?;
        write_private(&dir.join("admin.token"), &made.0.admin_token)?;
        write_private(&dir.join("apiserver.crt"), &made.0.server_cert_pem)?;
        write_private(&dir.join("ca.crt"), &made.0.ca_pem)?;
        tracing::info!(dir = %dir.display(), "created the lab's CA and API server certificate");
        Ok(made.0)
    }

    /// A new CA, server certificate and token; also the CA's key (PEM), to be kept.
    fn generate(dir: &Path) -> Result<(Self, String), DaemonError> {
        let failed = |e: rcgen::Error| DaemonError::Pki(e.to_string());
        let ca_key = KeyPair::generate().map_err(failed)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        ca.distinguished_name
            .push(DnType::CommonName, "podnet-lab-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(failed)?;
        let issuer = Issuer::new(ca, &ca_key);

        let server_key = KeyPair::generate().map_err(failed)?;
        let sans: Vec<String> = API_SERVER_SANS.iter().map(|s| s.to_string()).collect();
        let mut server = CertificateParams::new(sans).map_err(failed)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).map_err(failed)?;

        let pki = Pki {
            dir: dir.to_path_buf(),
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            admin_token: random_token(),
        };
        Ok((pki, ca_key.serialize_pem()))
    }

    /// Where the API server keeps its service-account signing key.
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }

    /// The API server's view: its signing key file, the admin's token, and the
    /// ServiceAccount admission (the lab's controllers make the `default` accounts).
    pub fn api_config(&self, mut config: podnet_apiserver::Config) -> podnet_apiserver::Config {
        use podnet_apiserver::auth::{StaticToken, UserInfo};
        config.service_account_key_file = Some(self.service_account_key());
        config.service_account_admission = true;
        config.static_tokens.push(StaticToken {
            token: self.admin_token.clone(),
            user: UserInfo::named(ADMIN_USER, &["system:masters"]),
        });
        config
    }
}

/// 32 random bytes as hex, from the kernel's generator.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let mut urandom = fs::File::open("/dev/urandom").expect("/dev/urandom exists");
    std::io::Read::read_exact(&mut urandom, &mut bytes).expect("/dev/urandom reads");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, text: &str) -> Result<(), DaemonError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(DaemonError::io(path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(DaemonError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(&dir.path().join("pki")).unwrap();
        let again = Pki::load_or_create(&dir.path().join("pki")).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.admin_token, again.admin_token);
        assert_eq!(first.admin_token.len(), 64);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(dir.path().join("pki/ca.key"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "private files are the owner's");
    }
}
