//! One allocation range and a range set, with host-local's defaults: the gateway is the
//! subnet's first address, a range starts right after the network address and ends at the
//! last usable address (before the broadcast address for IPv4). A range set hands out one
//! address per ADD; its ranges may come from different subnets of one family.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    pub subnet: IpNet,
    /// First address handed out (inclusive).
    pub start: IpAddr,
    /// Last address handed out (inclusive).
    pub end: IpAddr,
    /// Never handed out; returned as the gateway of every address from this range.
    pub gateway: IpAddr,
}

/// The ranges one address is taken from, with the JSON path that names the set in errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSet {
    pub field: String,
    pub ranges: Vec<Range>,
}

// === impl Range ===

impl Range {
    /// host-local's default range for `subnet`: `.1` is the gateway, the rest up to the last
    /// usable address is handed out.
    pub fn defaults(subnet: IpNet) -> Self {
        let first = subnet.network();
        Self {
            subnet,
            start: offset(first, 1),
            end: last_usable(subnet),
            gateway: offset(first, 1),
        }
    }

    pub fn is_ipv4(&self) -> bool {
        self.subnet.addr().is_ipv4()
    }

    /// Whether `ip` lies between `start` and `end`, inclusive.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.is_ipv4()
            && to_u128(ip) >= to_u128(self.start)
            && to_u128(ip) <= to_u128(self.end)
    }

    /// Whether `ip` may be given to a container: in the range, not the gateway, and for
    /// IPv4 neither the network nor the broadcast address (a range may include them when
    /// its `rangeStart`/`rangeEnd` say so; host-local would hand them out, we never do).
    pub fn hands_out(&self, ip: IpAddr) -> bool {
        self.contains(ip) && ip != self.gateway && !self.is_reserved_v4(ip)
    }

    fn is_reserved_v4(&self, ip: IpAddr) -> bool {
        self.is_ipv4() && (ip == self.subnet.network() || ip == self.subnet.broadcast())
    }

    /// Whether the two ranges share an address (ranges of different families never do).
    pub fn overlaps(&self, other: &Range) -> bool {
        self.is_ipv4() == other.is_ipv4()
            && to_u128(self.start) <= to_u128(other.end)
            && to_u128(other.start) <= to_u128(self.end)
    }

    /// `ip` with this range's prefix length, as a result carries it.
    pub fn address(&self, ip: IpAddr) -> IpNet {
        IpNet::new(ip, self.subnet.prefix_len()).expect("prefix length comes from a valid subnet")
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}-{})", self.subnet, self.start, self.end)
    }
}

// === impl RangeSet ===

impl RangeSet {
    /// The range holding `ip`, if any.
    pub fn range_of(&self, ip: IpAddr) -> Option<&Range> {
        self.ranges.iter().find(|r| r.contains(ip))
    }

    pub fn overlaps(&self, other: &RangeSet) -> Option<(usize, usize)> {
        self.ranges.iter().enumerate().find_map(|(i, a)| {
            other
                .ranges
                .iter()
                .position(|b| a.overlaps(b))
                .map(|j| (i, j))
        })
    }
}

impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

// Address arithmetic on u128, so IPv4 and IPv6 share one code path.

pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

pub(crate) fn from_u128(n: u128, ipv4: bool) -> IpAddr {
    if ipv4 {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// `ip + n`; callers stay inside a subnet, so this never wraps.
pub(crate) fn offset(ip: IpAddr, n: u128) -> IpAddr {
    from_u128(to_u128(ip) + n, ip.is_ipv4())
}

fn last_usable(subnet: IpNet) -> IpAddr {
    let last = subnet.broadcast();
    if last.is_ipv4() {
        from_u128(to_u128(last) - 1, true)
    } else {
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_defaults_skip_network_gateway_and_broadcast() {
        let r = Range::defaults("10.1.2.0/24".parse().unwrap());
        assert_eq!(
            (r.start, r.end, r.gateway),
            (ip("10.1.2.1"), ip("10.1.2.254"), ip("10.1.2.1"))
        );
        assert!(!r.hands_out(ip("10.1.2.1")), "gateway");
        assert!(r.hands_out(ip("10.1.2.2")));
        assert!(!r.hands_out(ip("10.1.2.255")));
    }

    #[test]
    fn ipv6_defaults_end_at_the_last_address() {
        let r = Range::defaults("fd00::/120".parse().unwrap());
        assert_eq!((r.start, r.end), (ip("fd00::1"), ip("fd00::ff")));
        assert!(r.hands_out(ip("fd00::ff")));
    }

    #[test]
    fn explicit_network_and_broadcast_are_never_handed_out() {
        let r = Range {
            start: ip("10.0.0.0"),
            end: ip("10.0.0.7"),
            ..Range::defaults("10.0.0.0/29".parse().unwrap())
        };
        assert!(r.contains(ip("10.0.0.0")));
        assert!(!r.hands_out(ip("10.0.0.0")));
        assert!(!r.hands_out(ip("10.0.0.7")));
    }

    #[test]
    fn overlap_is_by_address_range_and_family() {
        let a = Range {
            end: ip("10.0.0.100"),
            ..Range::defaults("10.0.0.0/24".parse().unwrap())
        };
        let b = Range {
            start: ip("10.0.0.101"),
            ..Range::defaults("10.0.0.0/24".parse().unwrap())
        };
        assert!(!a.overlaps(&b));
        assert!(a.overlaps(&Range::defaults("10.0.0.0/16".parse().unwrap())));
        assert!(!a.overlaps(&Range::defaults("fd00::/64".parse().unwrap())));
    }
}
