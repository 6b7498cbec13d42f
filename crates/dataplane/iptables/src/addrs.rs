//! The addresses of a namespace's interfaces, for NodePorts restricted by
//! `--nodeport-addresses` (iptables mode re-reads them, as kube-proxy does).

use std::net::IpAddr;
use std::path::Path;

use crate::Result;
use crate::exec::Place;

/// Every address on every interface of `netns` (`None`: the caller's own), loopback
/// included, as `ip -o addr show` lists them.
pub fn local_addresses(netns: Option<&Path>) -> Result<Vec<IpAddr>> {
    let out = Place::new(netns).run_ok("ip", &["-o", "addr", "show"], b"", "addr show")?;
    Ok(parse(&out))
}

fn parse(out: &str) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = out
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet" || *w == "inet6")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_from_ip_s_one_line_output() {
        let out = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n\
                   1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever\n\
                   2: eth0    inet 172.18.0.2/24 brd 172.18.0.255 scope global eth0\\ x\n";
        let ips: Vec<String> = parse(out).iter().map(ToString::to_string).collect();
        assert_eq!(ips, ["127.0.0.1", "172.18.0.2", "::1"]);
    }
}
