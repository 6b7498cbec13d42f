//! kube-proxy's iptables chain names, hashed exactly as upstream so that people's habits
//! (`iptables -t nat -L KUBE-SVC-…`) and tools that know the names keep working.
//!
//! A chain name is a prefix plus the first 16 characters of the standard (RFC 4648, padded)
//! base32 encoding of SHA-256 over `servicePortName + protocol` — e.g. `ns1/svc1:p80` +
//! `tcp` — and, for endpoint chains, `+ endpoint` (`10.180.0.1:80`, `[fd00::1]:80`). The
//! service port name is `namespace/name:port` (just `namespace/name` for an unnamed port) and
//! the protocol is lower case. iptables chain names are limited to 28 characters; the
//! longest prefix here is 9, so every name fits.

use sha2::{Digest, Sha256};

/// The chain that picks among a service port's endpoints for `Cluster` traffic policy.
pub const SVC_PREFIX: &str = "KUBE-SVC-";
/// The same for `Local` policy (only endpoints on this node).
pub const SVL_PREFIX: &str = "KUBE-SVL-";
/// External traffic (NodePort, LoadBalancer, external IPs) of one service port.
pub const EXT_PREFIX: &str = "KUBE-EXT-";
/// loadBalancerSourceRanges of one service port.
pub const FW_PREFIX: &str = "KUBE-FW-";
/// One endpoint of one service port: hairpin mark and DNAT.
pub const SEP_PREFIX: &str = "KUBE-SEP-";

/// Every per-service prefix: chains with these names are ours to flush and delete.
pub const SERVICE_CHAIN_PREFIXES: [&str; 5] =
    [SVC_PREFIX, SVL_PREFIX, EXT_PREFIX, FW_PREFIX, SEP_PREFIX];

/// RFC 4648 base32 alphabet (Go's `base32.StdEncoding`).
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The per-port chains of one service port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortChains {
    pub svc: String,
    pub svl: String,
    pub ext: String,
    pub fw: String,
}

// === impl PortChains ===

impl PortChains {
    /// `service_port_name` as kube-proxy prints it (`ns/svc:port`), `protocol` lower case.
    pub fn new(service_port_name: &str, protocol: &str) -> Self {
        let hash = hash16(&[service_port_name, protocol]);
        Self {
            svc: format!("{SVC_PREFIX}{hash}"),
            svl: format!("{SVL_PREFIX}{hash}"),
            ext: format!("{EXT_PREFIX}{hash}"),
            fw: format!("{FW_PREFIX}{hash}"),
        }
    }
}

/// The KUBE-SEP chain of `endpoint` (`ip:port`, IPv6 in brackets) of one service port.
pub fn endpoint_chain(service_port_name: &str, protocol: &str, endpoint: &str) -> String {
    format!(
        "{SEP_PREFIX}{}",
        hash16(&[service_port_name, protocol, endpoint])
    )
}

/// Whether `chain` is one of the per-service chains this mode creates.
pub fn is_service_chain(chain: &str) -> bool {
    SERVICE_CHAIN_PREFIXES.iter().any(|p| chain.starts_with(p))
}

/// The first 16 base32 characters of SHA-256 over the concatenated parts.
fn hash16(parts: &[&str]) -> String {
    let mut sha = Sha256::new();
    for p in parts {
        sha.update(p.as_bytes());
    }
    let digest = sha.finalize();
    // 16 characters of 5 bits each are the first 80 bits: 10 bytes, no padding involved.
    let mut out = String::with_capacity(16);
    let mut acc: u16 = 0;
    let mut bits = 0;
    for &byte in &digest[..10] {
        acc = (acc << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[usize::from((acc >> bits) & 0x1f)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values from upstream kube-proxy's own iptables proxier tests and from the names every
    // kubeadm cluster shows for its default Services.
    #[test]
    fn service_chains_match_upstream_names() {
        assert_eq!(
            PortChains::new("ns1/svc1:p80", "tcp").svc,
            "KUBE-SVC-XPGD46QRK7WJZT7O"
        );
        assert_eq!(
            PortChains::new("ns2/svc2:p80", "tcp").svc,
            "KUBE-SVC-GNZBNJ2PO5MGZ6GT"
        );
        assert_eq!(
            PortChains::new("ns2/svc2:p80", "tcp").ext,
            "KUBE-EXT-GNZBNJ2PO5MGZ6GT"
        );
        assert_eq!(
            PortChains::new("default/kubernetes:https", "tcp").svc,
            "KUBE-SVC-NPX46M4PTMTKRN6Y"
        );
        assert_eq!(
            PortChains::new("kube-system/kube-dns:dns", "udp").svc,
            "KUBE-SVC-TCOU7JCQXEZGVUNU"
        );
        assert_eq!(
            PortChains::new("kube-system/kube-dns:dns-tcp", "tcp").svc,
            "KUBE-SVC-ERIFXISQEP7F7OF4"
        );
        assert_eq!(
            PortChains::new("kube-system/kube-dns:metrics", "tcp").svc,
            "KUBE-SVC-JD5MR3NA4I4DYORP"
        );
    }

    #[test]
    fn endpoint_chains_match_upstream_names() {
        assert_eq!(
            endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
    }

    #[test]
    fn the_four_port_chains_share_one_hash_and_fit_iptables_limit() {
        let c = PortChains::new(
            "a-very-long-namespace-name/with-a-long-service:and-port",
            "sctp",
        );
        let hash = &c.svc[SVC_PREFIX.len()..];
        assert_eq!(hash.len(), 16);
        for name in [&c.svc, &c.svl, &c.ext, &c.fw] {
            assert!(name.ends_with(hash) && name.len() <= 28, "{name}");
            assert!(is_service_chain(name));
        }
        assert!(!is_service_chain("KUBE-SERVICES"));
        assert!(!is_service_chain("KUBE-MARK-MASQ"));
    }
}
