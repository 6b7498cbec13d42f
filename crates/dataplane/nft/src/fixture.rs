//! Tables for tests (behind the `test-util` feature): one that uses every expression the
//! crate renders, written with the short constructors of [`crate::build`].

pub mod battery;

use std::net::{IpAddr, Ipv4Addr};

use crate::build::*;

use crate::expr::{CmpOp, Expr, MarkOp, Match, RateUnit, RejectWith, Selector, VmapRef};
use crate::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl, SetFlags, Table};
use crate::types::{Atom, DataType, Family, Key, Value, ct_state, ct_status, proto};

/// kube-proxy's masquerade mark (bit 14).
pub const MASQ_MARK: u32 = 0x4000;

/// A table of family `ip` that uses every expression, set and map shape the crate renders,
/// in places the kernel accepts them (NAT only under nat chains, reject only under filter).
pub fn every_expression(name: &str) -> Table {
    let mut t = Table::new(Family::Ip, name);
    t.set(SetDecl::set("cluster-ips", vec![DataType::Ipv4Addr]).with_comment("Active ClusterIPs"))
        .element(Element::key(v4("10.96.0.1")))
        .element(Element::key(v4("10.96.0.10")));
    t.set(SetDecl::vmap("service-ips", svc_key()).with_comment("ClusterIP traffic"))
        .element(
            Element::verdict(svc(v4("10.96.0.10"), proto::UDP, 53), goto("svc-dns"))
                .with_comment("kube-system/kube-dns:dns"),
        )
        .element(Element::verdict(
            svc(v4("10.96.0.20"), proto::TCP, 80),
            goto("svc-web"),
        ));
    t.set(SetDecl::set("node-nets", vec![DataType::Ipv4Addr]).with_flags(interval()))
        .element(Element::key(Atom::Prefix(ip("172.18.0.0"), 16)))
        .element(Element::key(v4("203.0.113.10")));
    t.set(SetDecl::set("ports", vec![DataType::InetService]).with_flags(interval()))
        .element(Element::key(Value::Port(80)))
        .element(Element::key(Atom::Range(
            Value::Port(1000),
            Value::Port(2000),
        )));
    t.set(SetDecl::vmap("marks", vec![DataType::Mark]))
        .element(Element::verdict(Value::Mark(1), crate::expr::Verdict::Drop));
    t.set(SetDecl {
        data: Some(crate::object::MapData::Type(DataType::Ipv4Addr)),
        ..SetDecl::set("snat-to", vec![DataType::Ipv4Addr])
    })
    .element(Element {
        key: v4("10.244.1.2").into(),
        extra: crate::object::ElemExtra {
            data: Some(crate::object::ElemData::Value(v4("172.18.0.2"))),
            comment: None,
        },
    });
    t.set(
        SetDecl::set("pod-subnets", vec![DataType::Ipv4Addr, DataType::Ipv4Addr])
            .with_flags(interval()),
    )
    .element(Element::key(Key(vec![
        Atom::Value(v4("10.244.1.5")),
        Atom::Prefix(ip("10.244.1.0"), 24),
    ])))
    .element(Element::key(Key(vec![
        Atom::Range(v4("10.244.2.1"), v4("10.244.2.9")),
        Atom::Value(v4("10.96.0.1")),
    ])));
    t.set(SetDecl::set("ifaces", vec![DataType::IfName]))
        .element(Element::key(Value::IfName("eth0".into())));
    t.set(SetDecl {
        timeout: Some(10800),
        ..SetDecl::set("affinity", vec![DataType::Ipv4Addr]).with_flags(SetFlags {
            dynamic: true,
            timeout: true,
            interval: false,
        })
    });

    let base = |t: &mut Table, name: &str, ty, hook, prio, policy| {
        t.chain(ChainDecl::base(name, ty, hook, prio, policy));
    };
    base(
        &mut t,
        "nat-prerouting",
        ChainType::Nat,
        Hook::Prerouting,
        -100,
        Policy::Accept,
    );
    base(
        &mut t,
        "nat-output",
        ChainType::Nat,
        Hook::Output,
        -100,
        Policy::Accept,
    );
    base(
        &mut t,
        "nat-postrouting",
        ChainType::Nat,
        Hook::Postrouting,
        100,
        Policy::Accept,
    );
    base(
        &mut t,
        "filter-input",
        ChainType::Filter,
        Hook::Input,
        -110,
        Policy::Accept,
    );
    base(
        &mut t,
        "filter-forward",
        ChainType::Filter,
        Hook::Forward,
        -110,
        Policy::Drop,
    );
    for regular in [
        "services",
        "svc-dns",
        "svc-web",
        "ep-1",
        "ep-2",
        "ep-3",
        "mark-for-masquerade",
        "reject-chain",
        "marker",
    ] {
        t.chain(ChainDecl::regular(regular).with_comment("regular"));
    }

    t.chain(ChainDecl::regular("nat-prerouting"))
        .rule(Rule::new(vec![Expr::jump("services")]));
    t.chain(ChainDecl::regular("nat-output"))
        .rule(Rule::new(vec![Expr::jump("services")]));
    t.chain(ChainDecl::regular("services"))
        .rule(Rule::new(vec![Expr::Vmap {
            key: svc_selectors(),
            map: VmapRef::Named("service-ips".into()),
        }]));
    t.chain(ChainDecl::regular("svc-dns")).rule(
        Rule::new(vec![Expr::Vmap {
            key: vec![Selector::Numgen { modulus: 2 }],
            map: VmapRef::Anon(vec![
                (Value::Integer(0).into(), goto("ep-1")),
                (Value::Integer(1).into(), goto("ep-2")),
            ]),
        }])
        .with_comment("kube-system/kube-dns:dns"),
    );
    t.chain(ChainDecl::regular("svc-web"))
        .rule(Rule::new(vec![
            Match::eq(Selector::Numgen { modulus: 2 }, Value::Integer(0)),
            Expr::goto("ep-1"),
        ]))
        .rule(Rule::new(vec![Expr::goto("ep-3")]));
    t.chain(ChainDecl::regular("ep-1"))
        .rule(Rule::new(vec![
            Match::eq(ip_saddr(), v4("10.244.1.2")),
            Expr::jump("mark-for-masquerade"),
        ]))
        .rule(Rule::new(vec![Expr::SetUpdate {
            set: "affinity".into(),
            key: vec![ip_saddr()],
        }]))
        .rule(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto::UDP)),
            Expr::Dnat(nat_to("10.244.1.2", Some(53))),
        ]));
    t.chain(ChainDecl::regular("ep-2")).rule(Rule::new(vec![
        Match::eq(l4proto(), Value::Proto(proto::UDP)),
        Expr::Dnat(nat_to("10.244.2.3", Some(53))),
    ]));
    t.chain(ChainDecl::regular("ep-3")).rule(Rule::new(vec![
        Match::eq(l4proto(), Value::Proto(proto::TCP)),
        Expr::Dnat(nat_to("10.244.2.4", Some(8080))),
    ]));
    t.chain(ChainDecl::regular("mark-for-masquerade"))
        .rule(Rule::new(vec![Expr::MarkSet(MarkOp::Or(MASQ_MARK))]));
    t.chain(ChainDecl::regular("nat-postrouting"))
        .rule(Rule::new(vec![
            Match::mark_masked(MASQ_MARK, CmpOp::Eq, 0),
            Expr::Verdict(crate::expr::Verdict::Return),
        ]))
        .rule(Rule::new(vec![Expr::MarkSet(MarkOp::Xor(MASQ_MARK))]))
        .rule(Rule::new(vec![
            Match::eq(ip_saddr(), v4("10.244.1.9")),
            Expr::Snat(nat_to("172.18.0.2", None)),
        ]))
        .rule(Rule::new(vec![Expr::Masquerade { fully_random: true }]));
    t.chain(ChainDecl::regular("filter-input"))
        .rule(Rule::new(vec![
            Match::eq(
                ct(crate::expr::CtKey::State),
                Value::CtState(ct_state::ESTABLISHED | ct_state::RELATED),
            ),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::eq(
                ct(crate::expr::CtKey::State),
                Value::CtState(ct_state::INVALID),
            ),
            Expr::Verdict(crate::expr::Verdict::Drop),
        ]))
        .rule(Rule::new(vec![
            Match::ne(ct(crate::expr::CtKey::State), Value::CtState(ct_state::NEW)),
            Match::eq(
                ct(crate::expr::CtKey::Status),
                Value::CtStatus(ct_status::DNAT),
            ),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::eq(iifname(), Value::IfName("lo".into())),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::in_set(vec![iifname()], "ifaces"),
            Expr::Counter,
            accept(),
        ]))
        .rule(
            Rule::new(vec![
                Match::eq(
                    Selector::Fib(crate::expr::FibAddr::Daddr),
                    Value::AddrType(crate::types::AddrType::Local),
                ),
                Match::in_set(
                    vec![port(
                        crate::expr::Transport::Tcp,
                        crate::expr::PortField::Dport,
                    )],
                    "ports",
                ),
                accept(),
            ])
            .with_comment("node ports"),
        )
        .rule(Rule::new(vec![
            Expr::Limit {
                rate: 10,
                per: RateUnit::Second,
                burst: Some(20),
            },
            Expr::Log {
                prefix: Some("podnet ".into()),
            },
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::eq(
                Selector::Icmp(crate::expr::IcmpField::Type),
                Value::IcmpType(8),
            ),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::ne(ip_saddr(), Atom::Prefix(ip("10.0.0.0"), 8)),
            Match::eq(
                port(crate::expr::Transport::Udp, crate::expr::PortField::Sport),
                Value::Port(53),
            ),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::eq(Selector::Ct(crate::expr::CtKey::Mark), Value::Mark(3)),
            Match::eq(
                port(crate::expr::Transport::Sctp, crate::expr::PortField::Dport),
                Value::Port(9),
            ),
            accept(),
        ]))
        .rule(Rule::new(vec![
            Match::eq(
                port(crate::expr::Transport::Tcp, crate::expr::PortField::Sport),
                Atom::Range(Value::Port(1), Value::Port(1024)),
            ),
            Expr::Verdict(crate::expr::Verdict::Continue),
        ]))
        .rule(Rule::new(vec![
            Match::eq(
                Selector::Ip(crate::expr::IpField::Protocol),
                Value::Proto(proto::UDP),
            ),
            Expr::jump("marker"),
        ]))
        .rule(Rule::new(vec![Expr::Vmap {
            key: vec![Selector::Meta(crate::expr::MetaKey::Mark)],
            map: VmapRef::Named("marks".into()),
        }]))
        .rule(Rule::new(vec![
            Match::in_anon(
                vec![ip_saddr()],
                vec![
                    v4("1.2.3.4").into(),
                    Key::from(Atom::Prefix(ip("5.6.7.0"), 24)),
                ],
            ),
            Expr::jump("reject-chain"),
        ]))
        .rule(Rule::new(vec![
            Match::in_anon(svc_selectors(), vec![svc(v4("10.96.0.1"), proto::TCP, 443)]),
            Expr::Verdict(crate::expr::Verdict::Return),
        ]));
    t.chain(ChainDecl::regular("filter-forward"))
        .rule(Rule::new(vec![
            Match::eq(
                ct(crate::expr::CtKey::State),
                Value::CtState(ct_state::ESTABLISHED | ct_state::RELATED),
            ),
            accept(),
        ]));
    t.chain(ChainDecl::regular("marker"))
        .rule(Rule::new(vec![Expr::MarkSet(MarkOp::Set(0x10))]));
    t.chain(ChainDecl::regular("reject-chain"))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::TcpReset)]))
        .rule(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto::SCTP)),
            Expr::Reject(RejectWith::AdminProhibited),
        ]))
        .rule(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto::ICMP)),
            Expr::Reject(RejectWith::HostUnreachable),
        ]))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::PortUnreachable)]));
    t
}

/// What differs in `inet` and `ip6` tables: NAT naming its family, `icmpx`/`icmpv6` rejects.
pub fn family_specific(family: Family, name: &str) -> Table {
    let mut t = Table::new(family, name);
    t.chain(ChainDecl::base(
        "out",
        ChainType::Nat,
        Hook::Output,
        -100,
        Policy::Accept,
    ));
    t.chain(ChainDecl::base(
        "in",
        ChainType::Filter,
        Hook::Input,
        0,
        Policy::Accept,
    ));
    let (dst, to) = match family {
        Family::Ip6 => (
            Match::eq(
                Selector::Ip6(crate::expr::Ip6Field::Daddr),
                Atom::Prefix(ip("fd00::"), 8),
            ),
            nat_to("fd00::1", Some(53)),
        ),
        _ => (
            Match::eq(
                Selector::Meta(crate::expr::MetaKey::Nfproto),
                Value::NfProto(2),
            ),
            nat_to("10.0.0.1", Some(53)),
        ),
    };
    t.chain(ChainDecl::regular("out")).rule(Rule::new(vec![
        dst,
        Match::eq(l4proto(), Value::Proto(proto::UDP)),
        Expr::Dnat(to),
    ]));
    t.chain(ChainDecl::regular("in"))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::AdminProhibited)]))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::HostUnreachable)]))
        .rule(Rule::new(vec![Expr::Reject(RejectWith::NetUnreachable)]));
    t
}

fn nat_to(addr: &str, port: Option<u16>) -> crate::expr::NatTo {
    crate::expr::NatTo {
        addr: ip(addr),
        port,
    }
}

fn interval() -> SetFlags {
    SetFlags {
        interval: true,
        ..SetFlags::default()
    }
}

/// `10.0.0.1` as an address.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// `10.0.0.1` as an IPv4 value.
pub fn v4(s: &str) -> Value {
    Value::Ipv4(s.parse::<Ipv4Addr>().unwrap_or_else(|e| panic!("{s}: {e}")))
}
