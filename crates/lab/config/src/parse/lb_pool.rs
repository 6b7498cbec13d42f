//! `networking.loadBalancerPool` (podnet's own key): the lab's LoadBalancer addresses, a
//! comma-separated list of IPv4 ranges (`first-last`) and CIDRs on the node network, where
//! the nodes answer ARP for them — above 172.18.0.0/24, which holds the fabric and nodes.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// The node network, and the part of it the lab's own addresses take.
const NODE_NETWORK: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 18, 0, 0), 16);
const LAB_HOSTS: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 18, 0, 0), 24);

/// The list, each entry checked; the message says what is wrong with the first bad one.
pub(crate) fn parse(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (first, last) = bounds(part)
            .ok_or_else(|| format!("{part:?} is not an IPv4 range (first-last) or CIDR"))?;
        if first > last {
            return Err(format!("{part:?}: the range ends before it starts"));
        }
        for ip in [first, last] {
            if !NODE_NETWORK.contains(&ip) || LAB_HOSTS.contains(&ip) {
                return Err(format!(
                    "{part:?} must be on the node network {NODE_NETWORK} outside {LAB_HOSTS} \
                     (the nodes answer ARP for it there)"
                ));
            }
        }
        out.push(part.to_owned());
    }
    Ok(out)
}

fn bounds(part: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    match part.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let net: Ipv4Net = part.parse().ok()?;
            Some((net.network(), net.broadcast()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_cidrs_on_the_node_network_are_taken() {
        assert_eq!(
            parse("172.18.255.200-172.18.255.250, 172.18.254.0/28").unwrap(),
            ["172.18.255.200-172.18.255.250", "172.18.254.0/28"]
        );
    }

    #[test]
    fn addresses_off_the_node_network_or_among_the_nodes_are_refused() {
        assert!(
            parse("10.0.0.1-10.0.0.5")
                .unwrap_err()
                .contains("node network")
        );
        assert!(
            parse("172.18.0.10-172.18.0.20")
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            parse("172.18.5.9-172.18.5.1")
                .unwrap_err()
                .contains("ends before")
        );
        assert!(parse("nope").unwrap_err().contains("not an IPv4 range"));
    }
}
