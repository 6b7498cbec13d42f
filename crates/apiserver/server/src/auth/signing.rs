//! The key that signs service-account tokens (kube-apiserver's
//! `--service-account-signing-key-file`): ECDSA P-256 (JWS `ES256`), kept as a PKCS#8 PEM
//! file so that tokens outlive a restart.

use std::path::Path;

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};

/// The DER prefix of a P-256 public key's SubjectPublicKeyInfo (id-ecPublicKey, prime256v1,
/// a 65-byte uncompressed point), from which the key id is computed as upstream does.
const P256_SPKI_PREFIX: &[u8] = &[
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const PEM_TAG: &str = "PRIVATE KEY";

/// Why a signing key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("service account signing key {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("service account signing key {path}: not a PKCS#8 P-256 key in PEM: {reason}")]
    Format { path: String, reason: String },
}

pub struct SigningKey {
    pair: EcdsaKeyPair,
    key_id: String,
    rng: SystemRandom,
}

// === impl SigningKey ===

impl SigningKey {
    /// A fresh key, kept only in memory.
    pub fn generate() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("the system RNG works");
        Self::from_pkcs8(pkcs8.as_ref()).expect("ring reads the keys it makes")
    }

    /// The key in `path`, made there (mode 0600) the first time.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        let format = |reason: String| KeyError::Format {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read(path) {
            Ok(text) => {
                let pem = pem::parse(text).map_err(|e| format(e.to_string()))?;
                Self::from_pkcs8(pem.contents()).map_err(|e| format(e.to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = SystemRandom::new();
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .expect("the system RNG works");
                let text = pem::encode(&pem::Pem::new(PEM_TAG, pkcs8.as_ref()));
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                write_private(path, text.as_bytes()).map_err(io)?;
                tracing::info!(path = %path.display(), "created the service account signing key");
                Self::from_pkcs8(pkcs8.as_ref()).map_err(|e| format(e.to_string()))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, ring::error::KeyRejected> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)?;
        let spki = [P256_SPKI_PREFIX, pair.public_key().as_ref()].concat();
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        let key_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        Ok(SigningKey { pair, key_id, rng })
    }

    /// The JWS `kid`: base64url of the SHA-256 of the public key's DER, as upstream.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The fixed-width (r || s) ES256 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.pair
            .sign(&self.rng, message)
            .expect("signing with a valid key succeeds")
            .as_ref()
            .to_vec()
    }

    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref())
            .verify(message, signature)
            .is_ok()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_is_the_same_key_after_loading_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pki/sa.key");
        let first = SigningKey::load_or_create(&path).unwrap();
        let again = SigningKey::load_or_create(&path).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let signature = first.sign(b"payload");
        assert!(again.verify(b"payload", &signature));
        assert!(!again.verify(b"payloaD", &signature));
        assert!(!SigningKey::generate().verify(b"payload", &signature));
    }
}
