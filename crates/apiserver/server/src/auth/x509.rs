//! The user of a verified client certificate, as kube-apiserver's x509 authenticator reads
//! it: the subject's CommonName is the user name, each Organization a group. (The chain,
//! the validity period and the clientAuth usage are checked by the TLS handshake.)

use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::UserInfo;

/// Why a certificate names no user.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("unparsable certificate: {0}")]
    Parse(String),
    #[error("the certificate's subject has no CommonName")]
    NoCommonName,
}

/// `CN=NAME, O=GROUP…` → the user NAME in those groups and `system:authenticated`.
pub fn user_of(der: &[u8]) -> Result<UserInfo, CertError> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Parse(e.to_string()))?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())
        .ok_or(CertError::NoCommonName)?;
    let groups: Vec<&str> = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .collect();
    Ok(UserInfo::named(name, &groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn cert(subject: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, value) in subject {
            params.distinguished_name.push(ty.clone(), *value);
        }
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn common_name_is_the_user_and_organization_a_group() {
        let der = cert(&[
            (DnType::CommonName, "kubernetes-admin"),
            (DnType::OrganizationName, "system:masters"),
        ]);
        let user = user_of(&der).unwrap();
        assert_eq!(user.username, "kubernetes-admin");
        assert_eq!(user.groups, ["system:masters", "system:authenticated"]);
    }

    #[test]
    fn a_subject_without_common_name_names_nobody() {
        let der = cert(&[(DnType::OrganizationName, "system:masters")]);
        assert_eq!(user_of(&der), Err(CertError::NoCommonName));
        assert!(matches!(user_of(b"junk"), Err(CertError::Parse(_))));
    }
}
