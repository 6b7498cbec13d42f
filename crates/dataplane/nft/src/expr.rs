//! Rule expressions as data: what a rule reads from a packet (selectors), how it compares
//! (matches, set and map lookups) and what it does (statements and verdicts).

use std::net::IpAddr;

use crate::types::{DataType, Key, Value};

/// A field of the IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpField {
    Saddr,
    Daddr,
    Protocol,
}

/// A field of the IPv6 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ip6Field {
    Saddr,
    Daddr,
    Nexthdr,
}

/// A port of a transport header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortField {
    Sport,
    Dport,
}

/// A field of the ICMP (or ICMPv6) header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IcmpField {
    Type,
    Code,
}

/// Transport headers with ports; `Th` reads the ports of whichever transport header follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
    Th,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetaKey {
    L4proto,
    Iifname,
    Oifname,
    Mark,
    Nfproto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtKey {
    State,
    Status,
    Mark,
}

/// Which address `fib … type` looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FibAddr {
    Saddr,
    Daddr,
}

/// Something a rule reads from a packet or its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selector {
    Ip(IpField),
    Ip6(Ip6Field),
    Port(Transport, PortField),
    Icmp(IcmpField),
    Meta(MetaKey),
    Ct(CtKey),
    Fib(FibAddr),
    /// `numgen random mod N`: a number in 0..N, drawn per packet.
    Numgen {
        modulus: u32,
    },
}

/// `==` (written as nothing by nft) or `!=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
}

/// The right-hand side of a match.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rhs {
    /// A value, prefix or range (a key of one atom, or a concatenation).
    Key(Key),
    /// An anonymous set, `{ 80, 443 }`.
    AnonSet(Vec<Key>),
    /// A named set, `@cluster-ips`.
    Set(String),
}

/// `left [& mask] op right`; `left` has several selectors for a concatenation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    pub left: Vec<Selector>,
    pub mask: Option<u32>,
    pub op: CmpOp,
    pub right: Rhs,
}

/// Where a rule sends the packet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Accept,
    Drop,
    Continue,
    Return,
    Jump(String),
    Goto(String),
}

/// The map a vmap looks up: named (`@service-ips`) or anonymous (`{ 0 : goto a, 1 : goto b }`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VmapRef {
    Named(String),
    Anon(Vec<(Key, Verdict)>),
}

/// How `reject` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectWith {
    /// ICMP port unreachable: what a bare `reject` sends.
    PortUnreachable,
    TcpReset,
    AdminProhibited,
    HostUnreachable,
    NetUnreachable,
}

/// `meta mark set …`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MarkOp {
    Set(u32),
    Or(u32),
    Xor(u32),
    And(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateUnit {
    Second,
    Minute,
    Hour,
    Day,
}

/// A NAT target: an address and optionally a port (which needs a transport match before it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NatTo {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

/// One expression of a rule, in order: matches first, then statements, a verdict last.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Expr {
    Match(Match),
    /// `key vmap map`: the verdict of the element the key finds; no element, no verdict.
    Vmap {
        key: Vec<Selector>,
        map: VmapRef,
    },
    Counter,
    Limit {
        rate: u32,
        per: RateUnit,
        burst: Option<u32>,
    },
    Log {
        prefix: Option<String>,
    },
    MarkSet(MarkOp),
    /// `update @set { key }`: adds the packet's key to a dynamic set (ClientIP affinity).
    SetUpdate {
        set: String,
        key: Vec<Selector>,
    },
    Dnat(NatTo),
    Snat(NatTo),
    Masquerade {
        fully_random: bool,
    },
    Reject(RejectWith),
    Verdict(Verdict),
}

// === impl Selector ===

impl Selector {
    /// The type of what this selector reads.
    pub fn data_type(self) -> DataType {
        match self {
            Selector::Ip(IpField::Saddr | IpField::Daddr) => DataType::Ipv4Addr,
            Selector::Ip6(Ip6Field::Saddr | Ip6Field::Daddr) => DataType::Ipv6Addr,
            Selector::Ip(IpField::Protocol)
            | Selector::Ip6(Ip6Field::Nexthdr)
            | Selector::Meta(MetaKey::L4proto) => DataType::InetProto,
            Selector::Port(..) => DataType::InetService,
            Selector::Icmp(IcmpField::Type) => DataType::IcmpType,
            Selector::Icmp(IcmpField::Code) => DataType::Integer,
            Selector::Meta(MetaKey::Iifname | MetaKey::Oifname) => DataType::IfName,
            Selector::Meta(MetaKey::Mark) | Selector::Ct(CtKey::Mark) => DataType::Mark,
            Selector::Meta(MetaKey::Nfproto) => DataType::NfProto,
            Selector::Ct(CtKey::State) => DataType::CtState,
            Selector::Ct(CtKey::Status) => DataType::CtStatus,
            Selector::Fib(_) => DataType::FibAddrType,
            Selector::Numgen { .. } => DataType::Integer,
        }
    }

    /// Whether the type is a bit field matched by "any of these bits" (`ct state new,established`).
    pub fn is_flags(self) -> bool {
        matches!(self, Selector::Ct(CtKey::State | CtKey::Status))
    }
}

// === impl Match ===

impl Match {
    /// `left == value`.
    pub fn eq(left: Selector, value: impl Into<Key>) -> Expr {
        Expr::Match(Match {
            left: vec![left],
            mask: None,
            op: CmpOp::Eq,
            right: Rhs::Key(value.into()),
        })
    }

    /// `left != value`.
    pub fn ne(left: Selector, value: impl Into<Key>) -> Expr {
        Expr::Match(Match {
            left: vec![left],
            mask: None,
            op: CmpOp::Ne,
            right: Rhs::Key(value.into()),
        })
    }

    /// `left . left2 … @set`.
    pub fn in_set(left: Vec<Selector>, set: &str) -> Expr {
        Expr::Match(Match {
            left,
            mask: None,
            op: CmpOp::Eq,
            right: Rhs::Set(set.to_owned()),
        })
    }

    /// `left { k1, k2 }`.
    pub fn in_anon(left: Vec<Selector>, keys: Vec<Key>) -> Expr {
        Expr::Match(Match {
            left,
            mask: None,
            op: CmpOp::Eq,
            right: Rhs::AnonSet(keys),
        })
    }

    /// `meta mark & mask == value` (or `!=`).
    pub fn mark_masked(mask: u32, op: CmpOp, value: u32) -> Expr {
        Expr::Match(Match {
            left: vec![Selector::Meta(MetaKey::Mark)],
            mask: Some(mask),
            op,
            right: Rhs::Key(Value::Mark(value).into()),
        })
    }
}

// === impl Verdict ===

impl Verdict {
    /// The chain this verdict enters, if any.
    pub fn target(&self) -> Option<&str> {
        match self {
            Verdict::Jump(c) | Verdict::Goto(c) => Some(c),
            _ => None,
        }
    }
}

// === impl Expr ===

impl Expr {
    pub fn jump(chain: &str) -> Self {
        Expr::Verdict(Verdict::Jump(chain.to_owned()))
    }

    pub fn goto(chain: &str) -> Self {
        Expr::Verdict(Verdict::Goto(chain.to_owned()))
    }

    /// Chains this expression can send the packet to.
    pub fn chain_refs(&self) -> Vec<&str> {
        match self {
            Expr::Verdict(v) => v.target().into_iter().collect(),
            Expr::Vmap {
                map: VmapRef::Anon(elems),
                ..
            } => elems.iter().filter_map(|(_, v)| v.target()).collect(),
            _ => Vec::new(),
        }
    }

    /// Named sets and maps this expression uses.
    pub fn set_refs(&self) -> Option<&str> {
        match self {
            Expr::Match(Match {
                right: Rhs::Set(s), ..
            })
            | Expr::Vmap {
                map: VmapRef::Named(s),
                ..
            }
            | Expr::SetUpdate { set: s, .. } => Some(s),
            _ => None,
        }
    }
}
