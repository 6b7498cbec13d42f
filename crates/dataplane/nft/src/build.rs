//! Short constructors for the selectors, keys and verdicts rulesets use most, so a ruleset
//! reads close to nft's own syntax: `Match::eq(ip_saddr(), v)`, `svc(addr, TCP, 80)`.

use crate::expr::{CtKey, Expr, IpField, MetaKey, PortField, Selector, Transport, Verdict};
use crate::types::{Atom, DataType, Key, Value};

pub fn ip_saddr() -> Selector {
    Selector::Ip(IpField::Saddr)
}

pub fn ip_daddr() -> Selector {
    Selector::Ip(IpField::Daddr)
}

pub fn l4proto() -> Selector {
    Selector::Meta(MetaKey::L4proto)
}

pub fn iifname() -> Selector {
    Selector::Meta(MetaKey::Iifname)
}

pub fn ct(key: CtKey) -> Selector {
    Selector::Ct(key)
}

pub fn port(t: Transport, f: PortField) -> Selector {
    Selector::Port(t, f)
}

/// `th dport`: the destination port of whichever transport header follows.
pub fn th_dport() -> Selector {
    Selector::Port(Transport::Th, PortField::Dport)
}

/// `ip daddr . meta l4proto . th dport`: how kube-proxy keys its service maps.
pub fn svc_selectors() -> Vec<Selector> {
    vec![ip_daddr(), l4proto(), th_dport()]
}

/// The key type of [`svc_selectors`].
pub fn svc_key() -> Vec<DataType> {
    vec![
        DataType::Ipv4Addr,
        DataType::InetProto,
        DataType::InetService,
    ]
}

/// `addr . proto . port`.
pub fn svc(addr: Value, proto: u8, port: u16) -> Key {
    Key(vec![
        Atom::Value(addr),
        Atom::Value(Value::Proto(proto)),
        Atom::Value(Value::Port(port)),
    ])
}

pub fn goto(chain: &str) -> Verdict {
    Verdict::Goto(chain.to_owned())
}

pub fn accept() -> Expr {
    Expr::Verdict(Verdict::Accept)
}
