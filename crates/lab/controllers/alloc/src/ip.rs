//! ClusterIP allocation from a service CIDR.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::AllocError;
use crate::pool::{self, Pool};

/// The addresses of one service CIDR: the network address is never handed out, nor, for
/// IPv4, the broadcast address (upstream's ipallocator does the same).
#[derive(Debug, Clone)]
pub struct ClusterIpAllocator {
    cidr: IpNet,
    pool: Pool,
}

// === impl ClusterIpAllocator ===

impl ClusterIpAllocator {
    pub fn new(cidr: IpNet) -> Self {
        let cidr = cidr.trunc();
        let host_bits = u32::from(cidr.max_prefix_len() - cidr.prefix_len());
        let total = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
        let reserved = match cidr {
            IpNet::V4(_) => 2,
            IpNet::V6(_) => 1,
        };
        let size = total.saturating_sub(reserved);
        ClusterIpAllocator {
            cidr,
            pool: Pool::new(size, pool::static_band(size, 16, 256)),
        }
    }

    pub fn cidr(&self) -> IpNet {
        self.cidr
    }

    pub fn is_ipv6(&self) -> bool {
        matches!(self.cidr, IpNet::V6(_))
    }

    /// The first usable address: the `kubernetes` Service's (10.96.0.1 in 10.96.0.0/16).
    pub fn first(&self) -> IpAddr {
        self.address(0)
    }

    /// Takes `ip`, which the client asked for.
    pub fn allocate(&mut self, ip: IpAddr) -> Result<(), AllocError> {
        let offset = self.offset(ip).ok_or_else(|| AllocError::IpNotInRange {
            ip: ip.to_string(),
            range: self.cidr.to_string(),
        })?;
        if self.pool.take(offset) {
            Ok(())
        } else {
            Err(AllocError::IpAllocated)
        }
    }

    /// Takes a free address of the dynamic band (the static band once that is full).
    pub fn allocate_next(&mut self) -> Result<IpAddr, AllocError> {
        let offset = self.pool.take_next().ok_or(AllocError::Full)?;
        Ok(self.address(offset))
    }

    pub fn release(&mut self, ip: IpAddr) {
        if let Some(offset) = self.offset(ip) {
            self.pool.free(offset);
        }
    }

    pub fn is_allocated(&self, ip: IpAddr) -> bool {
        self.offset(ip).is_some_and(|o| self.pool.is_used(o))
    }

    fn base(&self) -> u128 {
        to_u128(self.cidr.network())
    }

    fn offset(&self, ip: IpAddr) -> Option<u128> {
        if !self.cidr.contains(&ip) {
            return None;
        }
        let off = to_u128(ip).checked_sub(self.base())?.checked_sub(1)?;
        (off < self.pool.size()).then_some(off)
    }

    fn address(&self, offset: u128) -> IpAddr {
        let n = self.base() + 1 + offset;
        match self.cidr {
            IpNet::V4(_) => IpAddr::V4((n as u32).into()),
            IpNet::V6(_) => IpAddr::V6(n.into()),
        }
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(cidr: &str) -> ClusterIpAllocator {
        ClusterIpAllocator::new(cidr.parse().unwrap())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn first_address_is_the_kubernetes_service_address() {
        assert_eq!(alloc("10.96.0.0/16").first(), ip("10.96.0.1"));
        assert_eq!(alloc("fd00:10:96::/112").first(), ip("fd00:10:96::1"));
    }

    #[test]
    fn requested_address_is_honoured_once() {
        let mut a = alloc("10.96.0.0/16");
        a.allocate(ip("10.96.0.10")).unwrap();
        assert!(a.is_allocated(ip("10.96.0.10")));
        assert_eq!(a.allocate(ip("10.96.0.10")), Err(AllocError::IpAllocated));
    }

    #[test]
    fn out_of_range_network_and_broadcast_addresses_are_refused() {
        let mut a = alloc("10.96.0.0/16");
        for bad in ["10.97.0.1", "10.96.0.0", "10.96.255.255", "fd00::1"] {
            let err = a.allocate(ip(bad)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "the provided IP ({bad}) is not in the valid range. The range of valid IPs is 10.96.0.0/16"
                )
            );
        }
        a.allocate(ip("10.96.255.254")).unwrap();
    }

    #[test]
    fn dynamic_addresses_come_from_above_the_static_band() {
        let mut a = alloc("10.96.0.0/16");
        // 65534 addresses: the band is capped at 256, so dynamic ones start at offset 256.
        assert_eq!(a.allocate_next().unwrap(), ip("10.96.1.1"));
        assert_eq!(a.allocate_next().unwrap(), ip("10.96.1.2"));
    }

    #[test]
    fn a_small_range_fills_up_and_frees() {
        let mut a = alloc("10.0.0.0/30");
        let one = a.allocate_next().unwrap();
        let two = a.allocate_next().unwrap();
        assert_ne!(one, two);
        assert_eq!(a.allocate_next(), Err(AllocError::Full));
        a.release(one);
        assert_eq!(a.allocate_next().unwrap(), one);
    }

    #[test]
    fn ipv6_ranges_allocate_without_enumerating() {
        let mut a = alloc("fd00::/64");
        let got = a.allocate_next().unwrap();
        assert_eq!(got, ip("fd00::101"));
        a.allocate(ip("fd00::ffff:ffff:ffff:ffff")).unwrap();
    }
}
