//! The order in which a range set's addresses are tried: host-local's round robin. It
//! starts right after the last reserved address (when that address is still in the set),
//! walks the ranges in order, wraps around, and ends with the last reserved address itself,
//! so a container that crash-loops does not get the same address back until the whole set
//! has been used. Addresses a range never hands out (gateway, IPv4 network/broadcast) are
//! skipped. The walk is lazy: an IPv6 /64 is never materialised.

use std::net::IpAddr;

use crate::range::{Range, RangeSet, from_u128, to_u128};

pub struct AllocationOrder<'a> {
    set: &'a RangeSet,
    /// (range index, address) of the position yielded last, or to yield first.
    cur: (usize, u128),
    start: (usize, u128),
    first: bool,
    done: bool,
}

// === impl AllocationOrder ===

impl<'a> AllocationOrder<'a> {
    pub fn new(set: &'a RangeSet, last_reserved: Option<IpAddr>) -> Self {
        let Some(first_range) = set.ranges.first() else {
            return Self {
                set,
                cur: (0, 0),
                start: (0, 0),
                first: true,
                done: true,
            };
        };
        let resume = last_reserved.and_then(|ip| {
            let i = set.ranges.iter().position(|r| r.contains(ip))?;
            Some(advance(set, (i, to_u128(ip))))
        });
        let start = resume.unwrap_or((0, to_u128(first_range.start)));
        Self {
            set,
            cur: start,
            start,
            first: true,
            done: false,
        }
    }
}

impl<'a> Iterator for AllocationOrder<'a> {
    type Item = (IpAddr, &'a Range);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if self.first {
                self.first = false;
            } else {
                self.cur = advance(self.set, self.cur);
                if self.cur == self.start {
                    self.done = true;
                    break;
                }
            }
            let range = &self.set.ranges[self.cur.0];
            let ip = from_u128(self.cur.1, range.is_ipv4());
            if range.hands_out(ip) {
                return Some((ip, range));
            }
        }
        None
    }
}

/// The position after `pos`: the next address, or the next range's start past a range's end.
fn advance(set: &RangeSet, (i, n): (usize, u128)) -> (usize, u128) {
    if n == to_u128(set.ranges[i].end) {
        let j = (i + 1) % set.ranges.len();
        (j, to_u128(set.ranges[j].start))
    } else {
        (i, n + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(&str, Option<&str>, Option<&str>)]) -> RangeSet {
        RangeSet {
            field: "ipam.ranges[0]".into(),
            ranges: ranges
                .iter()
                .map(|(subnet, start, end)| {
                    let d = Range::defaults(subnet.parse().unwrap());
                    Range {
                        start: start.map_or(d.start, |s| s.parse().unwrap()),
                        end: end.map_or(d.end, |s| s.parse().unwrap()),
                        ..d
                    }
                })
                .collect(),
        }
    }

    fn order(s: &RangeSet, last: Option<&str>) -> Vec<String> {
        AllocationOrder::new(s, last.map(|l| l.parse().unwrap()))
            .map(|(ip, _)| ip.to_string())
            .collect()
    }

    #[test]
    fn fresh_set_starts_after_the_gateway() {
        let s = set(&[("10.0.0.0/29", None, None)]);
        assert_eq!(
            order(&s, None),
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
    }

    #[test]
    fn resumes_after_the_last_reserved_and_ends_with_it() {
        let s = set(&[("10.0.0.0/29", None, None)]);
        assert_eq!(
            order(&s, Some("10.0.0.4")),
            ["10.0.0.5", "10.0.0.6", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
        );
    }

    #[test]
    fn last_reserved_outside_the_set_restarts_at_the_first_range() {
        let s = set(&[("10.0.0.0/29", None, None)]);
        assert_eq!(order(&s, Some("192.168.0.9"))[0], "10.0.0.2");
        assert_eq!(order(&s, Some("fd00::1"))[0], "10.0.0.2");
    }

    #[test]
    fn walks_every_range_of_the_set_in_turn() {
        let s = set(&[
            ("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.11")),
            ("172.16.0.0/30", None, None),
        ]);
        assert_eq!(
            order(&s, Some("10.0.0.11")),
            ["172.16.0.2", "10.0.0.10", "10.0.0.11"]
        );
        assert_eq!(
            order(&s, Some("172.16.0.2")),
            ["10.0.0.10", "10.0.0.11", "172.16.0.2"]
        );
    }

    #[test]
    fn explicit_range_skips_gateway_network_and_broadcast() {
        let s = set(&[("10.0.0.0/29", Some("10.0.0.0"), Some("10.0.0.7"))]);
        assert_eq!(
            order(&s, None),
            ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
        );
    }

    #[test]
    fn ipv6_is_lazy_and_includes_the_last_address() {
        let s = set(&[("fd00::/64", None, None)]);
        let first: Vec<_> =
            AllocationOrder::new(&s, Some("fd00::ffff:ffff:ffff:fffe".parse().unwrap()))
                .take(2)
                .map(|(ip, _)| ip.to_string())
                .collect();
        assert_eq!(first, ["fd00::ffff:ffff:ffff:ffff", "fd00::2"]);
    }

    #[test]
    fn empty_set_yields_nothing() {
        let s = RangeSet {
            field: "x".into(),
            ranges: vec![],
        };
        assert_eq!(AllocationOrder::new(&s, None).count(), 0);
    }
}
