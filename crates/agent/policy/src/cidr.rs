//! ipBlocks as disjoint IPv4 prefixes: each `cidr` minus its `except`s, the union over a
//! rule's blocks, split into the fewest aligned prefixes — what an nftables interval set
//! holds without overlapping elements (which the kernel refuses).

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::model::IpBlock;

/// An inclusive range of IPv4 addresses as numbers.
type Span = (u32, u32);

/// The IPv4 addresses `blocks` cover, as disjoint prefixes in address order (IPv6 blocks are
/// left out: the rendered table filters IPv4).
pub fn prefixes(blocks: &[&IpBlock]) -> Vec<Ipv4Net> {
    let mut spans: Vec<Span> = blocks
        .iter()
        .filter_map(|b| match b.cidr {
            IpNet::V4(net) => Some(minus(span(net), &b.except)),
            IpNet::V6(_) => None,
        })
        .flatten()
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<Span> = Vec::new();
    for (lo, hi) in spans {
        match merged.last_mut() {
            Some(last) if u64::from(lo) <= u64::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged.into_iter().flat_map(split).collect()
}

fn span(net: Ipv4Net) -> Span {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

/// `whole` without the IPv4 `except` networks.
fn minus(whole: Span, except: &[IpNet]) -> Vec<Span> {
    let mut out = vec![whole];
    for e in except {
        let IpNet::V4(e) = e else { continue };
        let (elo, ehi) = span(*e);
        out = out
            .into_iter()
            .flat_map(|(lo, hi)| {
                let mut keep = Vec::new();
                if elo > lo {
                    keep.push((lo, hi.min(elo - 1)));
                }
                if ehi < hi {
                    keep.push((lo.max(ehi + 1), hi));
                }
                keep
            })
            .collect();
    }
    out
}

/// A range as the fewest aligned prefixes.
fn split((lo, hi): Span) -> Vec<Ipv4Net> {
    let (mut lo, hi) = (u64::from(lo), u64::from(hi));
    let mut out = Vec::new();
    while lo <= hi {
        // The largest block aligned at `lo` that still fits.
        let mut size: u64 = if lo == 0 {
            1 << 32
        } else {
            1 << lo.trailing_zeros()
        };
        while lo + size - 1 > hi {
            size >>= 1;
        }
        let len = 32 - size.trailing_zeros() as u8;
        out.push(Ipv4Net::new(Ipv4Addr::from(lo as u32), len).expect("length within 32"));
        lo += size;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(cidr: &str, except: &[&str]) -> IpBlock {
        IpBlock {
            cidr: cidr.parse().unwrap(),
            except: except.iter().map(|e| e.parse().unwrap()).collect(),
        }
    }

    fn show(nets: Vec<Ipv4Net>) -> Vec<String> {
        nets.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_except_splits_its_cidr_into_aligned_prefixes() {
        let b = block("10.0.0.0/24", &["10.0.0.16/28"]);
        assert_eq!(
            show(prefixes(&[&b])),
            [
                "10.0.0.0/28",
                "10.0.0.32/27",
                "10.0.0.64/26",
                "10.0.0.128/25"
            ]
        );
    }

    #[test]
    fn overlapping_blocks_merge_and_an_except_is_refilled_by_another_block() {
        let a = block("10.244.0.0/16", &["10.244.1.5/32"]);
        let b = block("10.244.1.5/32", &[]);
        assert_eq!(show(prefixes(&[&a, &b])), ["10.244.0.0/16"]);
    }

    #[test]
    fn the_whole_space_and_ipv6_blocks() {
        let all = block("0.0.0.0/0", &[]);
        let v6 = block("fd00::/8", &[]);
        assert_eq!(show(prefixes(&[&all, &v6])), ["0.0.0.0/0"]);
        let all_but = block("0.0.0.0/0", &["128.0.0.0/1"]);
        assert_eq!(show(prefixes(&[&all_but])), ["0.0.0.0/1"]);
        assert!(prefixes(&[&block("10.0.0.0/8", &["10.0.0.0/8"])]).is_empty());
    }
}
