//! Typed objects → nft's script syntax: the one nftables text renderer in the project.
//! Rules render in the canonical form `nft list` prints back (marks as 0x%08x, flags in bit
//! order, `reject` for port-unreachable), so a rule read back from the kernel compares equal
//! as text to the rule that was written.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use crate::expr::{
    CmpOp, CtKey, Expr, FibAddr, IcmpField, Ip6Field, IpField, MarkOp, Match, MetaKey, NatTo,
    PortField, RateUnit, RejectWith, Rhs, Selector, Transport, Verdict, VmapRef,
};
use crate::object::{BaseChain, ChainType, ElemData, Hook, Policy, Rule};
use crate::types::{AddrType, Atom, Family, Key, Value, ct_state, ct_status, proto};

mod script;

pub use script::{op_line, script};

const CT_STATE_NAMES: [(u32, &str); 5] = [
    (ct_state::INVALID, "invalid"),
    (ct_state::ESTABLISHED, "established"),
    (ct_state::RELATED, "related"),
    (ct_state::NEW, "new"),
    (ct_state::UNTRACKED, "untracked"),
];

const CT_STATUS_NAMES: [(u32, &str); 6] = [
    (ct_status::EXPECTED, "expected"),
    (ct_status::SEEN_REPLY, "seen-reply"),
    (ct_status::ASSURED, "assured"),
    (ct_status::CONFIRMED, "confirmed"),
    (ct_status::SNAT, "snat"),
    (ct_status::DNAT, "dnat"),
];

const PROTO_NAMES: [(u8, &str); 5] = [
    (proto::ICMP, "icmp"),
    (proto::TCP, "tcp"),
    (proto::UDP, "udp"),
    (proto::ICMPV6, "ipv6-icmp"),
    (proto::SCTP, "sctp"),
];

const ICMP_TYPE_NAMES: [(u8, &str); 4] = [
    (0, "echo-reply"),
    (3, "destination-unreachable"),
    (8, "echo-request"),
    (11, "time-exceeded"),
];

/// The name of IP protocol `p` as nft prints it, if it has one.
pub fn proto_name(p: u8) -> Option<&'static str> {
    PROTO_NAMES.iter().find(|(n, _)| *n == p).map(|(_, s)| *s)
}

fn flags(f: &mut Formatter<'_>, bits: u32, table: &[(u32, &str)]) -> fmt::Result {
    let names: Vec<&str> = table
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, s)| *s)
        .collect();
    f.write_str(&names.join(","))
}

impl Display for Family {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Display for AddrType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrType::Unicast => "unicast",
            AddrType::Local => "local",
            AddrType::Broadcast => "broadcast",
            AddrType::Multicast => "multicast",
        })
    }
}

impl Display for Value {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Value::Ipv4(a) => write!(f, "{a}"),
            Value::Ipv6(a) => write!(f, "{a}"),
            Value::Proto(p) => match proto_name(*p) {
                Some(n) => f.write_str(n),
                None => write!(f, "{p}"),
            },
            Value::Port(p) => write!(f, "{p}"),
            Value::Mark(m) => write!(f, "0x{m:08x}"),
            Value::IfName(n) => write!(f, "\"{n}\""),
            Value::CtState(bits) => flags(f, *bits, &CT_STATE_NAMES),
            Value::CtStatus(bits) => flags(f, *bits, &CT_STATUS_NAMES),
            Value::AddrType(t) => write!(f, "{t}"),
            Value::IcmpType(t) => match ICMP_TYPE_NAMES.iter().find(|(n, _)| n == t) {
                Some((_, name)) => f.write_str(name),
                None => write!(f, "{t}"),
            },
            Value::NfProto(2) => f.write_str("ipv4"),
            Value::NfProto(10) => f.write_str("ipv6"),
            Value::NfProto(n) => write!(f, "{n}"),
            Value::Integer(n) => write!(f, "{n}"),
        }
    }
}

impl Display for Atom {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Atom::Value(v) => write!(f, "{v}"),
            Atom::Prefix(a, len) => write!(f, "{a}/{len}"),
            Atom::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

impl Display for Key {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        joined(f, &self.0, " . ")
    }
}

fn joined<T: Display>(f: &mut Formatter<'_>, items: &[T], sep: &str) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{it}")?;
    }
    Ok(())
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Ip(field) => f.write_str(match field {
                IpField::Saddr => "ip saddr",
                IpField::Daddr => "ip daddr",
                IpField::Protocol => "ip protocol",
            }),
            Selector::Ip6(field) => f.write_str(match field {
                Ip6Field::Saddr => "ip6 saddr",
                Ip6Field::Daddr => "ip6 daddr",
                Ip6Field::Nexthdr => "ip6 nexthdr",
            }),
            Selector::Port(t, p) => {
                let t = match t {
                    Transport::Tcp => "tcp",
                    Transport::Udp => "udp",
                    Transport::Sctp => "sctp",
                    Transport::Th => "th",
                };
                let p = match p {
                    PortField::Sport => "sport",
                    PortField::Dport => "dport",
                };
                write!(f, "{t} {p}")
            }
            Selector::Icmp(IcmpField::Type) => f.write_str("icmp type"),
            Selector::Icmp(IcmpField::Code) => f.write_str("icmp code"),
            Selector::Meta(k) => f.write_str(match k {
                MetaKey::L4proto => "meta l4proto",
                MetaKey::Iifname => "iifname",
                MetaKey::Oifname => "oifname",
                MetaKey::Mark => "meta mark",
                MetaKey::Nfproto => "meta nfproto",
            }),
            Selector::Ct(k) => f.write_str(match k {
                CtKey::State => "ct state",
                CtKey::Status => "ct status",
                CtKey::Mark => "ct mark",
            }),
            Selector::Fib(FibAddr::Saddr) => f.write_str("fib saddr type"),
            Selector::Fib(FibAddr::Daddr) => f.write_str("fib daddr type"),
            Selector::Numgen { modulus } => write!(f, "numgen random mod {modulus}"),
        }
    }
}

impl Display for Verdict {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accept => f.write_str("accept"),
            Verdict::Drop => f.write_str("drop"),
            Verdict::Continue => f.write_str("continue"),
            Verdict::Return => f.write_str("return"),
            Verdict::Jump(c) => write!(f, "jump {c}"),
            Verdict::Goto(c) => write!(f, "goto {c}"),
        }
    }
}

impl Display for Rhs {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::Key(k) => write!(f, "{k}"),
            Rhs::AnonSet(keys) => {
                f.write_str("{ ")?;
                joined(f, keys, ", ")?;
                f.write_str(" }")
            }
            Rhs::Set(name) => write!(f, "@{name}"),
        }
    }
}

impl Display for Match {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        joined(f, &self.left, " . ")?;
        if let Some(mask) = self.mask {
            write!(f, " & 0x{mask:08x}")?;
        }
        match (self.op, self.mask) {
            (CmpOp::Eq, None) => f.write_str(" ")?,
            (CmpOp::Eq, Some(_)) => f.write_str(" == ")?,
            (CmpOp::Ne, _) => f.write_str(" != ")?,
        }
        write!(f, "{}", self.right)
    }
}

impl Display for ElemData {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ElemData::Verdict(v) => write!(f, "{v}"),
            ElemData::Value(v) => write!(f, "{v}"),
        }
    }
}

/// A rule in `family`'s syntax (NAT and reject name the family inside `inet`).
pub struct RuleText<'a>(pub Family, pub &'a Rule);

impl Display for RuleText<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let RuleText(family, rule) = self;
        let mut first = true;
        for (i, e) in rule.exprs.iter().enumerate() {
            if implied(e, rule.exprs.get(i + 1)) {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            expr(f, *family, e)?;
        }
        if let Some(c) = &rule.comment {
            write!(f, " comment \"{c}\"")?;
        }
        Ok(())
    }
}

/// Whether nft leaves `e` out of its listing because `next` implies it: `meta l4proto tcp`
/// before `reject with tcp reset`, which nft adds by itself.
fn implied(e: &Expr, next: Option<&Expr>) -> bool {
    let tcp: crate::types::Key = Value::Proto(proto::TCP).into();
    matches!(next, Some(Expr::Reject(RejectWith::TcpReset)))
        && matches!(e, Expr::Match(Match { left, mask: None, op: CmpOp::Eq, right: Rhs::Key(k) })
            if left.as_slice() == [Selector::Meta(MetaKey::L4proto)] && *k == tcp)
}

fn expr(f: &mut Formatter<'_>, family: Family, e: &Expr) -> fmt::Result {
    match e {
        Expr::Match(m) => write!(f, "{m}"),
        Expr::Vmap { key, map } => {
            joined(f, key, " . ")?;
            match map {
                VmapRef::Named(n) => write!(f, " vmap @{n}"),
                VmapRef::Anon(elems) => {
                    f.write_str(" vmap { ")?;
                    for (i, (k, v)) in elems.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{k} : {v}")?;
                    }
                    f.write_str(" }")
                }
            }
        }
        Expr::Counter => f.write_str("counter"),
        Expr::Limit { rate, per, burst } => {
            let per = match per {
                RateUnit::Second => "second",
                RateUnit::Minute => "minute",
                RateUnit::Hour => "hour",
                RateUnit::Day => "day",
            };
            write!(f, "limit rate {rate}/{per}")?;
            // 5 packets is the kernel's default burst, which nft leaves out.
            match burst {
                Some(b) if *b != 5 => write!(f, " burst {b} packets"),
                _ => Ok(()),
            }
        }
        Expr::Log { prefix: None } => f.write_str("log"),
        Expr::Log { prefix: Some(p) } => write!(f, "log prefix \"{p}\""),
        Expr::MarkSet(op) => match op {
            MarkOp::Set(v) => write!(f, "meta mark set 0x{v:08x}"),
            MarkOp::Or(v) => write!(f, "meta mark set meta mark | 0x{v:08x}"),
            MarkOp::Xor(v) => write!(f, "meta mark set meta mark ^ 0x{v:08x}"),
            MarkOp::And(v) => write!(f, "meta mark set meta mark & 0x{v:08x}"),
        },
        Expr::SetUpdate { set, key } => {
            write!(f, "update @{set} {{ ")?;
            joined(f, key, " . ")?;
            f.write_str(" }")
        }
        Expr::Dnat(to) => nat(f, family, "dnat", to),
        Expr::Snat(to) => nat(f, family, "snat", to),
        Expr::Masquerade {
            fully_random: false,
        } => f.write_str("masquerade"),
        Expr::Masquerade { fully_random: true } => f.write_str("masquerade fully-random"),
        Expr::Reject(with) => reject(f, family, *with),
        Expr::Verdict(v) => write!(f, "{v}"),
    }
}

fn nat(f: &mut Formatter<'_>, family: Family, verb: &str, to: &NatTo) -> fmt::Result {
    f.write_str(verb)?;
    if family == Family::Inet {
        f.write_str(match to.addr {
            IpAddr::V4(_) => " ip",
            IpAddr::V6(_) => " ip6",
        })?;
    }
    match (to.addr, to.port) {
        (addr, None) => write!(f, " to {addr}"),
        (IpAddr::V4(a), Some(p)) => write!(f, " to {a}:{p}"),
        (IpAddr::V6(a), Some(p)) => write!(f, " to [{a}]:{p}"),
    }
}

fn reject(f: &mut Formatter<'_>, family: Family, with: RejectWith) -> fmt::Result {
    let icmp = match family {
        Family::Ip => "icmp",
        Family::Ip6 => "icmpv6",
        Family::Inet => "icmpx",
    };
    let code = match (with, family) {
        (RejectWith::PortUnreachable, _) => return f.write_str("reject"),
        (RejectWith::TcpReset, _) => return f.write_str("reject with tcp reset"),
        (RejectWith::AdminProhibited, _) => "admin-prohibited",
        (RejectWith::HostUnreachable, Family::Ip6) => "addr-unreachable",
        (RejectWith::HostUnreachable, _) => "host-unreachable",
        (RejectWith::NetUnreachable, Family::Ip) => "net-unreachable",
        (RejectWith::NetUnreachable, _) => "no-route",
    };
    write!(f, "reject with {icmp} {code}")
}

impl Display for ChainType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
            ChainType::Route => "route",
        })
    }
}

impl Display for Hook {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        })
    }
}

impl Display for Policy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
        })
    }
}

impl Display for BaseChain {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "type {} hook {} priority {}; policy {};",
            self.ty, self.hook, self.priority, self.policy
        )
    }
}
