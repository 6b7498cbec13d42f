//! The host end of a pod's veth is named from the attachment alone, so DEL and GC find it
//! without state and without entering the pod's namespace.

use sha2::{Digest, Sha256};

/// The prefix of every host veth podnet-cni creates; GC only ever touches links named so.
const PREFIX: &str = "veth";
/// 4 + 11 = 15 bytes, the kernel's limit; 44 bits of hash keep collisions out of reach for
/// the pods of one node.
const HASH_CHARS: usize = 11;

/// `veth` + the first 11 hex digits of SHA-256(containerID NUL ifname).
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let mut h = Sha256::new();
    h.update(container_id.as_bytes());
    h.update([0]);
    h.update(ifname.as_bytes());
    let digest = h.finalize();
    let mut name = String::with_capacity(PREFIX.len() + HASH_CHARS);
    name.push_str(PREFIX);
    for byte in digest.iter() {
        name.push_str(&format!("{byte:02x}"));
    }
    name.truncate(PREFIX.len() + HASH_CHARS);
    name
}

/// Whether `name` has the shape of a name [`host_veth_name`] makes.
pub fn is_host_veth_name(name: &str) -> bool {
    name.len() == PREFIX.len() + HASH_CHARS
        && name.starts_with(PREFIX)
        && name[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_valid_and_distinct() {
        let a = host_veth_name("c1", "eth0");
        assert_eq!(a, host_veth_name("c1", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(podnet_base::IfName::new(a.clone()).is_ok());
        assert!(is_host_veth_name(&a));
        assert_ne!(a, host_veth_name("c1", "eth1"));
        // The separator keeps ("c1e", "th0") apart from ("c1", "eth0").
        assert_ne!(a, host_veth_name("c1e", "th0"));
        assert!(
            !is_host_veth_name("veth1234abcd"),
            "reference plugin names are not ours"
        );
    }
}
