//! kube-proxy's nftables names: `service-HASH-ns/name/proto/port`,
//! `endpoint-HASH-ns/name/proto/port__ip/port`, where HASH is the first 8 characters of the
//! base32 (RFC 4648, padded alphabet) SHA-256 of the rest, so chains can be found with the
//! same names as under kube-proxy.

use std::net::SocketAddr;

use podnet_k8s_model::ServicePortName;
use sha2::{Digest, Sha256};

/// nftables allows 256 bytes; kube-proxy keeps 16 for its longest prefix.
const BASE_MAX: usize = 256 - 16;

/// The per-service-port chain names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainNames {
    /// `service-…`: Cluster-policy endpoint pick.
    pub cluster: String,
    /// `local-…`: Local-policy endpoint pick.
    pub local: String,
    /// `external-…`: dispatch of NodePort / LB / externalIP traffic.
    pub external: String,
    /// `firewall-…`: loadBalancerSourceRanges.
    pub firewall: String,
}

impl ChainNames {
    pub fn new(name: &ServicePortName) -> Self {
        let base = service_chain_base(name);
        Self {
            cluster: format!("service-{base}"),
            local: format!("local-{base}"),
            external: format!("external-{base}"),
            firewall: format!("firewall-{base}"),
        }
    }
}

/// `HASH-ns/name/proto/port`.
pub fn service_chain_base(name: &ServicePortName) -> String {
    hash_and_truncate(&format!(
        "{}/{}/{}/{}",
        name.service.namespace,
        name.service.name,
        name.protocol.as_str(),
        name.port
    ))
}

/// `HASH-ns/name/proto/port__ip/port` (an IPv6 address with its colons as dots).
pub fn endpoint_chain_base(name: &ServicePortName, endpoint: SocketAddr) -> String {
    let ip = endpoint.ip().to_string().replace(':', ".");
    hash_and_truncate(&format!(
        "{}/{}/{}/{}__{}/{}",
        name.service.namespace,
        name.service.name,
        name.protocol.as_str(),
        name.port,
        ip,
        endpoint.port()
    ))
}

fn hash_and_truncate(name: &str) -> String {
    let hash = Sha256::digest(name.as_bytes());
    let mut out = base32(&hash);
    out.truncate(8);
    out.push('-');
    out.push_str(name);
    if out.len() > BASE_MAX {
        out.truncate(BASE_MAX - 3);
        out.push_str("...");
    }
    out
}

/// RFC 4648 base32 (only the first 8 characters are ever used, so no padding logic).
pub(crate) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(ALPHABET[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_k8s_model::Protocol;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn names_are_kube_proxys() {
        // The examples in kube-proxy's own source comments.
        let n = ServicePortName::new("ns1", "svc1", "p80", Protocol::Tcp);
        assert_eq!(service_chain_base(&n), "ULMVA6XW-ns1/svc1/tcp/p80");
        assert_eq!(
            endpoint_chain_base(&n, "10.180.0.1:80".parse().unwrap()),
            "5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"
        );
        assert_eq!(
            ChainNames::new(&n).external,
            "external-ULMVA6XW-ns1/svc1/tcp/p80"
        );
    }
}
