//! ipMasq in nftables, in a table podnet owns (`inet podnet-cni`); other components' tables
//! and iptables chains are never touched.
//!
//! One base chain at the NAT postrouting hook, the same for every network, and per-pod set
//! elements: `masq4`/`masq6` hold the pod addresses, `local4`/`local6` hold
//! `pod address . pod subnet`. Traffic from a pod to its own subnet or to multicast is left
//! alone, everything else it sends is masqueraded, as the reference plugin's per-container
//! iptables chain does. ADD and DEL are each one atomic `nft -f -` transaction; DEL adds the
//! elements before deleting them so that it is idempotent on nft 1.0.6, which has no
//! `destroy`.

use std::fmt::Write;

use ipnet::IpNet;

pub const FAMILY: &str = "inet";
pub const TABLE: &str = "podnet-cni";

/// nftables keeps comments up to 128 bytes.
const MAX_COMMENT: usize = 128;

/// The table and sets, declared idempotently (`add` does not fail on what exists).
fn declarations(out: &mut String) {
    let t = format!("{FAMILY} {TABLE}");
    let _ = writeln!(out, "add table {t}");
    for (v, addr) in [("4", "ipv4_addr"), ("6", "ipv6_addr")] {
        let _ = writeln!(out, "add set {t} masq{v} {{ type {addr}; }}");
        let _ = writeln!(
            out,
            "add set {t} local{v} {{ type {addr} . {addr}; flags interval; }}"
        );
    }
}

/// The transaction that masquerades `addrs` (pod addresses with their prefix length).
pub fn render_add(addrs: &[IpNet], comment: &str) -> String {
    let t = format!("{FAMILY} {TABLE}");
    let mut out = String::new();
    declarations(&mut out);
    // Rewriting the chain every time keeps it exactly as this version of podnet wants it.
    let _ = writeln!(
        out,
        "add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}"
    );
    let _ = writeln!(out, "flush chain {t} postrouting");
    for rule in [
        "ip daddr 224.0.0.0/4 return",
        "ip6 daddr ff00::/8 return",
        "ip saddr . ip daddr @local4 return",
        "ip6 saddr . ip6 daddr @local6 return",
        "ip saddr @masq4 masquerade",
        "ip6 saddr @masq6 masquerade",
    ] {
        let _ = writeln!(out, "add rule {t} postrouting {rule}");
    }
    let comment: String = comment
        .chars()
        .filter(|c| *c != '"')
        .take(MAX_COMMENT)
        .collect();
    for e in elements(addrs) {
        let _ = writeln!(
            out,
            "add element {t} masq{} {{ {} comment \"{comment}\" }}",
            e.family, e.addr
        );
        let _ = writeln!(
            out,
            "add element {t} local{} {{ {} . {} comment \"{comment}\" }}",
            e.family, e.addr, e.subnet
        );
    }
    out
}

/// The transaction that stops masquerading `addrs`; succeeds whether or not they were.
pub fn render_del(addrs: &[IpNet]) -> String {
    let t = format!("{FAMILY} {TABLE}");
    let mut out = String::new();
    declarations(&mut out);
    for e in elements(addrs) {
        for verb in ["add", "delete"] {
            let _ = writeln!(out, "{verb} element {t} masq{} {{ {} }}", e.family, e.addr);
            let _ = writeln!(
                out,
                "{verb} element {t} local{} {{ {} . {} }}",
                e.family, e.addr, e.subnet
            );
        }
    }
    out
}

struct Element {
    family: &'static str,
    addr: std::net::IpAddr,
    subnet: IpNet,
}

fn elements(addrs: &[IpNet]) -> impl Iterator<Item = Element> + '_ {
    addrs.iter().map(|a| Element {
        family: if a.addr().is_ipv4() { "4" } else { "6" },
        addr: a.addr(),
        subnet: a.trunc(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_masquerades_everything_but_the_pods_subnet() {
        let tx = render_add(
            &[
                "10.244.1.5/24".parse().unwrap(),
                "fd00::5/64".parse().unwrap(),
            ],
            "pods/c1/eth0",
        );
        assert!(
            tx.contains(
                "add element inet podnet-cni masq4 { 10.244.1.5 comment \"pods/c1/eth0\" }"
            )
        );
        assert!(tx.contains("add element inet podnet-cni local4 { 10.244.1.5 . 10.244.1.0/24"));
        assert!(tx.contains("add element inet podnet-cni local6 { fd00::5 . fd00::/64"));
        assert!(tx.contains("add rule inet podnet-cni postrouting ip saddr @masq4 masquerade"));
    }

    #[test]
    fn del_is_idempotent_by_construction() {
        let tx = render_del(&["10.244.1.5/24".parse().unwrap()]);
        let add = tx
            .find("add element inet podnet-cni masq4 { 10.244.1.5 }")
            .unwrap();
        let del = tx
            .find("delete element inet podnet-cni masq4 { 10.244.1.5 }")
            .unwrap();
        assert!(add < del);
        assert!(!tx.contains("chain"), "DEL leaves the rules alone: {tx}");
    }
}
