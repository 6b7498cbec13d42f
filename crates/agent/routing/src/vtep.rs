//! The MAC address of a node's VXLAN device, derived from its node IP.
//!
//! flannel gives its device a random MAC and publishes it in a Node annotation, which every
//! other node must read before it can program the FDB. podnet derives it instead: `0e:70`
//! followed by the four bytes of the node's IPv4 address. `0e` has the locally administered
//! bit set and the multicast bit clear; `70` is 'p'. Every node computes every other node's
//! MAC from the Node object alone, and a node that is re-created with the same IP gets the
//! same MAC, so peers' entries stay valid.

use std::fmt;
use std::net::Ipv4Addr;

use podnet_netlink::Mac;

const PREFIX: [u8; 2] = [0x0e, 0x70];

/// A VXLAN tunnel endpoint's MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VtepMac(pub [u8; 6]);

// === impl VtepMac ===

impl VtepMac {
    pub fn of(node_ip: Ipv4Addr) -> Self {
        let [a, b, c, d] = node_ip.octets();
        VtepMac([PREFIX[0], PREFIX[1], a, b, c, d])
    }
}

impl From<VtepMac> for Mac {
    fn from(m: VtepMac) -> Self {
        Mac(m.0)
    }
}

impl From<Mac> for VtepMac {
    fn from(m: Mac) -> Self {
        VtepMac(m.0)
    }
}

impl fmt::Display for VtepMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Mac(self.0).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_the_node_ip_locally_administered_unicast() {
        let mac = VtepMac::of(Ipv4Addr::new(172, 18, 0, 2));
        assert_eq!(mac.to_string(), "0e:70:ac:12:00:02");
        assert_eq!(mac.0[0] & 0x01, 0, "unicast");
        assert_eq!(mac.0[0] & 0x02, 0x02, "locally administered");
        assert_ne!(mac, VtepMac::of(Ipv4Addr::new(172, 18, 0, 3)));
    }
}
