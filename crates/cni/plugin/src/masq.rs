//! ipMasq in nftables, in a table podnet owns (`inet podnet-cni`); other components' tables
//! and iptables chains are never touched.
//!
//! One base chain at the NAT postrouting hook, the same for every network, and per-pod set
//! elements: `masq4`/`masq6` hold the pod addresses, `local4`/`local6` hold
//! `pod address . pod subnet`. Traffic from a pod to its own subnet or to multicast is left
//! alone, everything else it sends is masqueraded, as the reference plugin's per-container
//! iptables chain does. ADD and DEL are each one atomic podnet-nft transaction; DEL adds the
//! elements before deleting them so that it is idempotent on nft 1.0.6, which has no
//! `destroy`. Many pods share the table, so these transactions touch only their own
//! elements instead of diffing the whole table.

use std::net::IpAddr;

use ipnet::IpNet;
use podnet_nft::expr::{Expr, Ip6Field, IpField, Match, Selector, Verdict};
use podnet_nft::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl, SetFlags};
use podnet_nft::types::{Atom, DataType, Family, Key, Value};
use podnet_nft::{TableDump, TableId, Transaction};

pub const TABLE: &str = "podnet-cni";

/// nftables keeps comments up to 128 bytes.
const MAX_COMMENT: usize = 128;
/// nftables' `srcnat` priority: NAT after routing.
const SRCNAT: i32 = 100;
const CHAIN: &str = "postrouting";

/// The table's id.
pub fn table() -> TableId {
    TableId::new(Family::Inet, TABLE)
}

/// The table and sets, declared idempotently (`add` does not fail on what exists).
fn declarations() -> Transaction {
    let mut tx = Transaction::new(table());
    tx.add_table();
    for (v, addr) in [("4", DataType::Ipv4Addr), ("6", DataType::Ipv6Addr)] {
        tx.add_set(SetDecl::set(&format!("masq{v}"), vec![addr]));
        tx.add_set(
            SetDecl::set(&format!("local{v}"), vec![addr, addr]).with_flags(SetFlags {
                interval: true,
                ..SetFlags::default()
            }),
        );
    }
    tx
}

/// The chain's rules: leave multicast and the pod's own subnet alone, masquerade the rest.
fn rules() -> Vec<Rule> {
    let ret = || Expr::Verdict(Verdict::Return);
    let (s4, d4) = (Selector::Ip(IpField::Saddr), Selector::Ip(IpField::Daddr));
    let (s6, d6) = (
        Selector::Ip6(Ip6Field::Saddr),
        Selector::Ip6(Ip6Field::Daddr),
    );
    let masq = || Expr::Masquerade {
        fully_random: false,
    };
    let prefix = |s: &str, len| Atom::Prefix(s.parse().expect("a literal address"), len);
    vec![
        Rule::new(vec![Match::eq(d4, prefix("224.0.0.0", 4)), ret()]),
        Rule::new(vec![Match::eq(d6, prefix("ff00::", 8)), ret()]),
        Rule::new(vec![Match::in_set(vec![s4, d4], "local4"), ret()]),
        Rule::new(vec![Match::in_set(vec![s6, d6], "local6"), ret()]),
        Rule::new(vec![Match::in_set(vec![s4], "masq4"), masq()]),
        Rule::new(vec![Match::in_set(vec![s6], "masq6"), masq()]),
    ]
}

/// The transaction that masquerades `addrs` (pod addresses with their prefix length).
pub fn add(addrs: &[IpNet], comment: &str) -> Transaction {
    let mut tx = declarations();
    // Rewriting the chain every time keeps it exactly as this version of podnet wants it.
    tx.add_chain(ChainDecl::base(
        CHAIN,
        ChainType::Nat,
        Hook::Postrouting,
        SRCNAT,
        Policy::Accept,
    ))
    .flush_chain(CHAIN);
    for r in rules() {
        tx.add_rule(CHAIN, r);
    }
    let comment: String = comment
        .chars()
        .filter(|c| *c != '"')
        .take(MAX_COMMENT)
        .collect();
    for (v, masq, local) in elements(addrs) {
        tx.add_elements(&format!("masq{v}"), vec![masq.with_comment(&comment)]);
        tx.add_elements(&format!("local{v}"), vec![local.with_comment(&comment)]);
    }
    tx
}

/// The transaction that stops masquerading `addrs`; succeeds whether or not they were.
pub fn del(addrs: &[IpNet]) -> Transaction {
    let mut tx = declarations();
    for (v, masq, local) in elements(addrs) {
        let (masq_set, local_set) = (format!("masq{v}"), format!("local{v}"));
        tx.add_elements(&masq_set, vec![masq.clone()])
            .add_elements(&local_set, vec![local.clone()])
            .delete_elements(&masq_set, vec![masq.key])
            .delete_elements(&local_set, vec![local.key]);
    }
    tx
}

/// The pod addresses (with their subnet's length) that attachments of `network` for which
/// `stale(container_id, ifname)` holds are still masqueraded with (GC: an ADD killed after it
/// masqueraded, whose runtime never sent DEL). Elements name their attachment in their
/// comment (`network/container/ifname`, as [`add`] writes it); the `local` ones also carry
/// the subnet, which [`del`] needs.
pub fn stale_addresses(
    dump: &TableDump,
    network: &str,
    stale: impl Fn(&str, &str) -> bool,
) -> Vec<IpNet> {
    let mut out = Vec::new();
    for set in ["local4", "local6"] {
        let Some(set) = dump.sets.get(set) else {
            continue;
        };
        for (key, extra) in &set.elements {
            let owner: Vec<&str> = extra.comment.as_deref().unwrap_or("").split('/').collect();
            let [net, container, ifname] = owner[..] else {
                continue;
            };
            if net != network || !stale(container, ifname) {
                continue;
            }
            let addr = match key.0.first() {
                Some(Atom::Value(Value::Ipv4(a))) => IpAddr::V4(*a),
                Some(Atom::Value(Value::Ipv6(a))) => IpAddr::V6(*a),
                _ => continue,
            };
            if let Some(Atom::Prefix(_, len)) = key.0.get(1)
                && let Ok(net) = IpNet::new(addr, *len)
            {
                out.push(net);
            }
        }
    }
    out
}

/// Per address: the family suffix, its `masq` element and its `local` element.
fn elements(addrs: &[IpNet]) -> impl Iterator<Item = (&'static str, Element, Element)> + '_ {
    addrs.iter().map(|a| {
        let addr = Value::ip(a.addr());
        let subnet = Atom::Prefix(a.trunc().addr(), a.prefix_len());
        let v = match a.addr() {
            IpAddr::V4(_) => "4",
            IpAddr::V6(_) => "6",
        };
        let local = Key(vec![Atom::Value(addr.clone()), subnet]);
        (v, Element::key(addr), Element::key(local))
    })
}

#[cfg(test)]
mod tests {
    use podnet_nft::object::Hook;
    use podnet_nft::render::script;
    use podnet_nft::trace::{Packet, trace};
    use podnet_nft::{Executor, Fake};

    use super::*;

    fn pod_addrs() -> Vec<IpNet> {
        vec![
            "10.244.1.5/24".parse().unwrap(),
            "fd00::5/64".parse().unwrap(),
        ]
    }

    #[test]
    fn add_masquerades_everything_but_the_pods_subnet() {
        let tx = script(&add(&pod_addrs(), "pods/c1/eth0"));
        assert!(
            tx.contains(
                "add element inet podnet-cni masq4 { 10.244.1.5 comment \"pods/c1/eth0\" }"
            ),
            "{tx}"
        );
        assert!(tx.contains("add element inet podnet-cni local4 { 10.244.1.5 . 10.244.1.0/24"));
        assert!(tx.contains("add element inet podnet-cni local6 { fd00::5 . fd00::/64"));
        assert!(tx.contains("add rule inet podnet-cni postrouting ip saddr @masq4 masquerade"));

        // What the table does with packets, on the fake's state.
        let mut fake = Fake::new();
        fake.execute(&add(&pod_addrs(), "pods/c1/eth0")).unwrap();
        let t = fake.table(&table()).unwrap();
        let ip = |s: &str| s.parse().unwrap();
        let masqueraded = |src: &str, dst: &str| {
            trace(&[&t], Hook::Postrouting, &Packet::udp(ip(src), ip(dst), 53))[0].masquerade
        };
        assert!(masqueraded("10.244.1.5", "8.8.8.8"));
        assert!(masqueraded("fd00::5", "2001:db8::1"));
        assert!(!masqueraded("10.244.1.5", "10.244.1.9"), "own subnet");
        assert!(!masqueraded("10.244.1.5", "224.0.0.251"), "multicast");
        assert!(
            !masqueraded("10.244.1.6", "8.8.8.8"),
            "another pod's address"
        );
    }

    #[test]
    fn del_is_idempotent_by_construction() {
        let tx = script(&del(&["10.244.1.5/24".parse().unwrap()]));
        let add = tx
            .find("add element inet podnet-cni masq4 { 10.244.1.5 }")
            .unwrap();
        let del = tx
            .find("delete element inet podnet-cni masq4 { 10.244.1.5 }")
            .unwrap();
        assert!(add < del);
        assert!(!tx.contains("chain"), "DEL leaves the rules alone: {tx}");

        let mut fake = Fake::new();
        fake.execute(&super::add(&pod_addrs(), "c1")).unwrap();
        fake.execute(&super::del(&pod_addrs())).unwrap();
        fake.execute(&super::del(&pod_addrs())).unwrap();
        let dump = fake.dump(&table()).unwrap().unwrap();
        assert!(dump.sets.values().all(|s| s.elements.is_empty()), "{dump}");
    }
}
