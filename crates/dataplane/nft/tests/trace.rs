//! The packet tracer over typed tables: verdicts, paths, DNAT targets and the chance of each
//! `numgen` branch.

use podnet_nft::build::*;
use podnet_nft::expr::{Expr, Match, NatTo, RejectWith, Selector};
use podnet_nft::fixture::{MASQ_MARK, every_expression, ip, v4};
use podnet_nft::object::{ChainDecl, ChainType, Hook, Policy, Rule, Table};
use podnet_nft::trace::{Fate, Outcome, Packet, trace};
use podnet_nft::types::{Family, Value, ct_state, proto};
use podnet_nft::{Executor, Fake, diff};

/// The every-expression table as the fake holds it after applying it: the tracer walks what
/// an executor accepted, not only what was meant.
fn every() -> Table {
    let t = every_expression("podnet-trace");
    let mut fake = Fake::new();
    fake.execute(&diff(None, &t)).unwrap();
    fake.table(&t.id).unwrap()
}

fn dnat(o: &Outcome) -> Option<(String, Option<u16>)> {
    o.dnat.map(|d| (d.addr.to_string(), d.port))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn cluster_ip_udp_reaches_each_endpoint_with_equal_chance() {
    let t = every();
    let pkt = Packet::udp(ip("10.244.1.5"), ip("10.96.0.10"), 53);
    let outs = trace(&[&t], Hook::Prerouting, &pkt);
    assert_eq!(outs.len(), 2, "{outs:#?}");
    let mut targets: Vec<_> = outs.iter().map(|o| (dnat(o), o.probability)).collect();
    targets.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(targets[0].0, Some(("10.244.1.2".into(), Some(53))));
    assert_eq!(targets[1].0, Some(("10.244.2.3".into(), Some(53))));
    assert!(targets.iter().all(|(_, p)| close(*p, 0.5)), "{targets:?}");
    for o in &outs {
        assert_eq!(o.fate, Fate::Accept);
        assert_eq!(o.comments(), ["kube-system/kube-dns:dns"], "{o}");
        assert_eq!(
            o.chains()[..3],
            ["nat-prerouting", "services", "svc-dns"],
            "{o}"
        );
        assert_eq!(o.packet.daddr, o.dnat.unwrap().addr);
    }
}

/// A `goto`'s chain that ends without a verdict returns to the chain that jumped, not to the
/// one that went to it: the TCP packet sent to the UDP-only endpoint leaves un-NATed.
#[test]
fn goto_returns_past_the_chain_that_went_to_it() {
    let t = every();
    let pkt = Packet::tcp(ip("10.244.1.5"), ip("10.96.0.20"), 80);
    let outs = trace(&[&t], Hook::Prerouting, &pkt);
    assert_eq!(outs.len(), 2, "{outs:#?}");
    let to_ep3 = outs
        .iter()
        .find(|o| o.dnat.is_some())
        .expect("one branch DNATs");
    assert_eq!(dnat(to_ep3), Some(("10.244.2.4".into(), Some(8080))));
    assert!(close(to_ep3.probability, 0.5));
    let to_ep1 = outs.iter().find(|o| o.dnat.is_none()).unwrap();
    assert_eq!(to_ep1.fate, Fate::Accept);
    assert_eq!(
        to_ep1.chains(),
        [
            "nat-prerouting",
            "services",
            "svc-web",
            "ep-1",
            "mark-for-masquerade"
        ][..4]
    );
}

#[test]
fn an_endpoint_talking_to_itself_is_marked_for_masquerade_then_masqueraded() {
    let t = every();
    let pkt = Packet::udp(ip("10.244.1.2"), ip("10.96.0.10"), 53);
    let outs = trace(&[&t], Hook::Prerouting, &pkt);
    let hairpin = outs
        .iter()
        .find(|o| dnat(o) == Some(("10.244.1.2".into(), Some(53))))
        .unwrap();
    assert_eq!(hairpin.packet.mark, MASQ_MARK, "{hairpin}");
    let post = trace(&[&t], Hook::Postrouting, &hairpin.packet);
    assert_eq!(post.len(), 1);
    assert!(post[0].masquerade, "{}", post[0]);
    assert_eq!(post[0].packet.mark, 0, "the mark is cleared");
    let other = outs.iter().find(|o| o.packet.mark == 0).unwrap();
    let post = trace(&[&t], Hook::Postrouting, &other.packet);
    assert!(!post[0].masquerade, "{}", post[0]);
}

#[test]
fn snat_before_masquerade() {
    let t = every();
    let pkt = Packet::udp(ip("10.244.1.9"), ip("203.0.113.10"), 53).with_mark(MASQ_MARK);
    let post = trace(&[&t], Hook::Postrouting, &pkt);
    assert_eq!(post[0].snat.map(|s| s.addr), Some(ip("172.18.0.2")));
    assert!(!post[0].masquerade);
}

#[test]
fn forward_policy_drop_and_established_accept() {
    let t = every();
    let new = Packet::tcp(ip("10.244.1.5"), ip("203.0.113.10"), 80);
    let outs = trace(&[&t], Hook::Forward, &new);
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].fate, Fate::Drop, "{}", outs[0]);
    let est = new.with_ct_state(ct_state::ESTABLISHED);
    assert_eq!(trace(&[&t], Hook::Forward, &est)[0].fate, Fate::Accept);
}

/// A table of its own: a filter input chain that sends two sources to a reject chain.
fn rejecting() -> Table {
    let mut t = Table::new(Family::Ip, "reject");
    t.chain(ChainDecl::base(
        "in",
        ChainType::Filter,
        Hook::Input,
        0,
        Policy::Accept,
    ))
    .rule(
        Rule::new(vec![
            Match::in_anon(vec![ip_saddr()], vec![v4("192.0.2.1").into()]),
            Expr::jump("reject-chain"),
        ])
        .with_comment("blocked source"),
    );
    t.chain(ChainDecl::regular("reject-chain"))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::TcpReset)]))
        .rule(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto::SCTP)),
            Expr::Reject(RejectWith::AdminProhibited),
        ]))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::PortUnreachable)]));
    t
}

#[test]
fn reject_answers_by_protocol() {
    let t = rejecting();
    let to = ip("10.0.0.1");
    let fate = |p: Packet| trace(&[&t], Hook::Input, &p).remove(0);
    let tcp = fate(Packet::tcp(ip("192.0.2.1"), to, 22));
    assert_eq!(tcp.fate, Fate::Reject(RejectWith::TcpReset));
    assert_eq!(tcp.comments(), ["blocked source"]);
    assert_eq!(
        fate(Packet::udp(ip("192.0.2.1"), to, 53)).fate,
        Fate::Reject(RejectWith::PortUnreachable)
    );
    let sctp = Packet::new(proto::SCTP, ip("192.0.2.1"), 1, to, 9);
    assert_eq!(fate(sctp).fate, Fate::Reject(RejectWith::AdminProhibited));
    assert_eq!(
        fate(Packet::tcp(ip("192.0.2.2"), to, 22)).fate,
        Fate::Accept
    );
}

/// kube-proxy's pick of one of N endpoints as a cascade of plain rules:
/// `numgen random mod 3 0 goto a`, `numgen random mod 2 0 goto b`, `goto c`.
#[test]
fn numgen_cascade_gives_each_endpoint_a_third() {
    let mut t = Table::new(Family::Ip, "cascade");
    t.chain(ChainDecl::base(
        "out",
        ChainType::Nat,
        Hook::Output,
        -100,
        Policy::Accept,
    ))
    .rule(Rule::new(vec![
        Match::eq(Selector::Numgen { modulus: 3 }, Value::Integer(0)),
        Expr::goto("a"),
    ]))
    .rule(Rule::new(vec![
        Match::eq(Selector::Numgen { modulus: 2 }, Value::Integer(0)),
        Expr::goto("b"),
    ]))
    .rule(Rule::new(vec![Expr::goto("c")]));
    for (name, last) in [("a", 1), ("b", 2), ("c", 3)] {
        t.chain(ChainDecl::regular(name)).rule(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto::TCP)),
            Expr::Dnat(NatTo {
                addr: ip(&format!("10.244.0.{last}")),
                port: Some(80),
            }),
        ]));
    }
    let outs = trace(
        &[&t],
        Hook::Output,
        &Packet::tcp(ip("10.0.0.1"), ip("10.96.0.5"), 80),
    );
    assert_eq!(outs.len(), 3);
    for o in &outs {
        assert!(close(o.probability, 1.0 / 3.0), "{o}");
        assert!(o.dnat.is_some());
    }
    let total: f64 = outs.iter().map(|o| o.probability).sum();
    assert!(close(total, 1.0));
}

/// Base chains of one hook run in priority order, across tables; a drop in the first ends it.
#[test]
fn base_chains_run_in_priority_order_across_tables() {
    let mut late = Table::new(Family::Ip, "late");
    late.chain(ChainDecl::base(
        "in",
        ChainType::Filter,
        Hook::Input,
        10,
        Policy::Accept,
    ))
    .rule(Rule::new(vec![Expr::MarkSet(
        podnet_nft::expr::MarkOp::Or(2),
    )]));
    let mut early = Table::new(Family::Inet, "early");
    early
        .chain(ChainDecl::base(
            "in",
            ChainType::Filter,
            Hook::Input,
            -10,
            Policy::Accept,
        ))
        .rule(Rule::new(vec![Expr::MarkSet(
            podnet_nft::expr::MarkOp::Set(1),
        )]));
    let pkt = Packet::tcp(ip("10.0.0.1"), ip("10.0.0.2"), 80);
    let out = trace(&[&late, &early], Hook::Input, &pkt).remove(0);
    assert_eq!(out.packet.mark, 3, "set 1 first, then | 2: {out}");
    assert_eq!(out.chains(), ["in", "in"]);
    let v6 = Packet::tcp(ip("fd00::1"), ip("fd00::2"), 80);
    let out = trace(&[&late, &early], Hook::Input, &v6).remove(0);
    assert_eq!(out.packet.mark, 1, "an ip table does not see IPv6: {out}");
}
