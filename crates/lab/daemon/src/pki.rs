//! The lab's identity material, made once per lab in `STATE_DIR/pki` and kept across
//! restarts: a CA (`ca.crt`/`ca.key`), the API server's certificate signed by it for every
//! name and address the server is reached by, and the service-account signing key (the API
//! server makes `sa.key` itself). Client certificates for the lab's users and components
//! ([`crate::identities`]) are issued from the CA at every start. Keys are 0600.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::DaemonError;
use crate::identities::Identity;

/// The names and addresses in the API server's certificate besides the `kubernetes`
/// Service's ClusterIPs (which follow the service subnet): the Service's DNS names, the
/// fabric address the nodes use, and loopback.
pub const API_SERVER_SANS: &[&str] = &[
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    "172.18.0.1",
    "127.0.0.1",
];

pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: String,
    ca_key_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

/// A client certificate and its key (PEM), for a kubeconfig's user.
pub struct ClientCredentials {
    pub cert_pem: String,
    pub key_pem: String,
}

// === impl Pki ===

impl Pki {
    /// The lab's material in `dir`, made (all of it, together) when any of it is missing.
    pub fn load_or_create(dir: &Path, service_ips: &[String]) -> Result<Self, DaemonError> {
        let read = |name: &str| fs::read_to_string(dir.join(name)).ok();
        if let (Some(ca_pem), Some(ca_key_pem), Some(server_cert_pem), Some(server_key_pem)) = (
            read("ca.crt"),
            read("ca.key"),
            read("apiserver.crt"),
            read("apiserver.key"),
        ) {
            return Ok(Pki {
                dir: dir.to_path_buf(),
                ca_pem,
                ca_key_pem,
                server_cert_pem,
                server_key_pem,
            });
        }
        let made = Self::generate(dir, service_ips)?;
        fs::create_dir_all(dir).map_err(DaemonError::io(dir))?;
        write_private(&dir.join("ca.key"), &made.ca_key_pem)?;
        write_private(&dir.join("apiserver.key"), &made.server_key_pem)?;
        write_private(&dir.join("apiserver.crt"), &made.server_cert_pem)?;
        write_private(&dir.join("ca.crt"), &made.ca_pem)?;
        tracing::info!(dir = %dir.display(), "created the lab's CA and API server certificate");
        Ok(made)
    }

    /// A new CA and server certificate.
    fn generate(dir: &Path, service_ips: &[String]) -> Result<Self, DaemonError> {
        let ca_key = KeyPair::generate().map_err(failed)?;
        let ca_cert = ca_params()?.self_signed(&ca_key).map_err(failed)?;
        let issuer = Issuer::new(ca_params()?, &ca_key);

        let server_key = KeyPair::generate().map_err(failed)?;
        let sans: Vec<String> = API_SERVER_SANS
            .iter()
            .map(|s| s.to_string())
            .chain(service_ips.iter().cloned())
            .collect();
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

        Ok(Pki {
            dir: dir.to_path_buf(),
            ca_pem: ca_cert.pem(),
            ca_key_pem: ca_key.serialize_pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        })
    }

    /// A client certificate for `identity` (CN its user, O its group, as kube-apiserver
    /// reads them), signed by the lab's CA.
    pub fn issue(&self, identity: &Identity) -> Result<ClientCredentials, DaemonError> {
        let ca_key = KeyPair::from_pem(&self.ca_key_pem).map_err(failed)?;
        let issuer = Issuer::new(ca_params()?, &ca_key);
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, identity.user.as_str());
        if let Some(group) = identity.group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &issuer).map_err(failed)?;
        Ok(ClientCredentials {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Where the API server keeps its service-account signing key.
    pub fn service_account_key(&self) -> PathBuf {
        self.dir.join("sa.key")
    }

    /// The API server's view: its signing key file, the ServiceAccount admission (the lab's
    /// controllers make the `default` accounts), and anonymous requests limited by RBAC.
    pub fn api_config(&self, mut config: podnet_apiserver::Config) -> podnet_apiserver::Config {
        config.service_account_key_file = Some(self.service_account_key());
        config.service_account_admission = true;
        config.anonymous_is_admin = false;
        config
    }
}

/// The CA's own certificate parameters: the same every time, so that a CA key read back
/// signs as the issuer its certificate names.
fn ca_params() -> Result<CertificateParams, DaemonError> {
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    ca.distinguished_name
        .push(DnType::CommonName, "podnet-lab-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(ca)
}

fn failed(e: rcgen::Error) -> DaemonError {
    DaemonError::Pki(e.to_string())
}

/// Writes `text` to `path` readable by the owner only, atomically (a temp file renamed over
/// it), so that a reader never sees half a key or kubeconfig.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), DaemonError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(DaemonError::io(&tmp))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(DaemonError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(DaemonError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let service_ips = ["10.96.0.1".to_owned()];
        let first = Pki::load_or_create(&dir.path().join("pki"), &service_ips).unwrap();
        let again = Pki::load_or_create(&dir.path().join("pki"), &service_ips).unwrap();
        assert_eq!(first.ca_pem, again.ca_pem);
        assert_eq!(first.server_key_pem, again.server_key_pem);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &fs::metadata(dir.path().join("pki/ca.key"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "private files are the owner's");
    }
}
