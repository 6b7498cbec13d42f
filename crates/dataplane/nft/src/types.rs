//! nftables data types and typed values: what set keys, map data and matches are made of.
//! A value knows its type, so a key of the wrong type or length is caught before the kernel
//! sees it (nft itself would coerce some: `tcp` parses as the IPv4 address 0.0.0.6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A table's address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ip,
    Ip6,
    Inet,
}

/// The types a set key, map data or match operand can have (nft's names in [`DataType::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataType {
    Ipv4Addr,
    Ipv6Addr,
    InetProto,
    InetService,
    Mark,
    IfName,
    CtState,
    CtStatus,
    FibAddrType,
    IcmpType,
    NfProto,
    /// A plain number (numgen's result, ICMP codes).
    Integer,
}

/// IP protocol numbers podnet names.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;
}

/// Conntrack state bits (`ct state`), as the kernel numbers them.
pub mod ct_state {
    pub const INVALID: u32 = 1;
    pub const ESTABLISHED: u32 = 2;
    pub const RELATED: u32 = 4;
    pub const NEW: u32 = 8;
    pub const UNTRACKED: u32 = 64;
}

/// Conntrack status bits (`ct status`), as the kernel numbers them.
pub mod ct_status {
    pub const EXPECTED: u32 = 1;
    pub const SEEN_REPLY: u32 = 2;
    pub const ASSURED: u32 = 4;
    pub const CONFIRMED: u32 = 8;
    pub const SNAT: u32 = 16;
    pub const DNAT: u32 = 32;
}

/// `fib … type` results podnet matches on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddrType {
    Unicast,
    Local,
    Broadcast,
    Multicast,
}

/// One typed value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    Proto(u8),
    Port(u16),
    Mark(u32),
    IfName(String),
    CtState(u32),
    CtStatus(u32),
    AddrType(AddrType),
    IcmpType(u8),
    /// `meta nfproto`: 2 (ipv4) or 10 (ipv6), as the kernel's NFPROTO_*.
    NfProto(u8),
    Integer(u32),
}

/// One component of a set key: a value, or (in sets with the interval flag) a prefix or a range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Atom {
    Value(Value),
    Prefix(IpAddr, u8),
    Range(Value, Value),
}

/// A set key: one atom, or several for a concatenation (`10.96.0.10 . udp . 53`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(pub Vec<Atom>);

// === impl Family ===

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
            Family::Inet => "inet",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Family::Ip, Family::Ip6, Family::Inet]
            .into_iter()
            .find(|f| f.name() == s)
    }
}

// === impl DataType ===

impl DataType {
    /// nft's name for the type, as in `type ipv4_addr . inet_proto`.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Ipv4Addr => "ipv4_addr",
            DataType::Ipv6Addr => "ipv6_addr",
            DataType::InetProto => "inet_proto",
            DataType::InetService => "inet_service",
            DataType::Mark => "mark",
            DataType::IfName => "ifname",
            DataType::CtState => "ct_state",
            DataType::CtStatus => "ct_status",
            DataType::FibAddrType => "fib_addrtype",
            DataType::IcmpType => "icmp_type",
            DataType::NfProto => "nf_proto",
            DataType::Integer => "integer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use DataType::*;
        [
            Ipv4Addr,
            Ipv6Addr,
            InetProto,
            InetService,
            Mark,
            IfName,
            CtState,
            CtStatus,
            FibAddrType,
            IcmpType,
            NfProto,
            Integer,
        ]
        .into_iter()
        .find(|t| t.name() == s)
    }

    /// Whether a prefix of an address of this type can be written (`10.0.0.0/8`).
    pub fn is_address(self) -> bool {
        matches!(self, DataType::Ipv4Addr | DataType::Ipv6Addr)
    }
}

// === impl Value ===

impl Value {
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Ipv4(_) => DataType::Ipv4Addr,
            Value::Ipv6(_) => DataType::Ipv6Addr,
            Value::Proto(_) => DataType::InetProto,
            Value::Port(_) => DataType::InetService,
            Value::Mark(_) => DataType::Mark,
            Value::IfName(_) => DataType::IfName,
            Value::CtState(_) => DataType::CtState,
            Value::CtStatus(_) => DataType::CtStatus,
            Value::AddrType(_) => DataType::FibAddrType,
            Value::IcmpType(_) => DataType::IcmpType,
            Value::NfProto(_) => DataType::NfProto,
            Value::Integer(_) => DataType::Integer,
        }
    }

    /// The value of `ip` in its own type.
    pub fn ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Value::Ipv4(a),
            IpAddr::V6(a) => Value::Ipv6(a),
        }
    }
}

// === impl Atom ===

impl Atom {
    /// The network `addr/len`: a prefix, or the plain address when `len` covers all of it
    /// (how nft stores and lists it).
    pub fn net(addr: IpAddr, len: u8) -> Self {
        let full = if addr.is_ipv4() { 32 } else { 128 };
        if len >= full {
            Atom::Value(Value::ip(addr))
        } else {
            Atom::Prefix(addr, len)
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Atom::Value(v) | Atom::Range(v, _) => v.data_type(),
            Atom::Prefix(IpAddr::V4(_), _) => DataType::Ipv4Addr,
            Atom::Prefix(IpAddr::V6(_), _) => DataType::Ipv6Addr,
        }
    }

    /// Whether this atom needs a set with the interval flag.
    pub fn is_interval(&self) -> bool {
        !matches!(self, Atom::Value(_))
    }

    /// Whether `v` falls inside this atom.
    pub fn contains(&self, v: &Value) -> bool {
        match (self, v) {
            (Atom::Value(a), v) => a == v,
            (Atom::Range(lo, hi), v) => lo.data_type() == v.data_type() && lo <= v && v <= hi,
            (Atom::Prefix(net, len), Value::Ipv4(a)) => match net {
                IpAddr::V4(n) => prefix_match(u32::from(*n).into(), u32::from(*a).into(), 32, *len),
                IpAddr::V6(_) => false,
            },
            (Atom::Prefix(net, len), Value::Ipv6(a)) => match net {
                IpAddr::V6(n) => prefix_match(u128::from(*n), u128::from(*a), 128, *len),
                IpAddr::V4(_) => false,
            },
            _ => false,
        }
    }
}

fn prefix_match(net: u128, addr: u128, bits: u8, len: u8) -> bool {
    if len == 0 {
        return true;
    }
    let shift = u32::from(bits.saturating_sub(len));
    (net >> shift) == (addr >> shift)
}

impl From<Value> for Atom {
    fn from(v: Value) -> Self {
        Atom::Value(v)
    }
}

// === impl Key ===

impl Key {
    pub fn types(&self) -> Vec<DataType> {
        self.0.iter().map(Atom::data_type).collect()
    }

    /// Whether the concatenated `values` fall inside this key.
    pub fn contains(&self, values: &[Value]) -> bool {
        self.0.len() == values.len() && self.0.iter().zip(values).all(|(a, v)| a.contains(v))
    }
}

impl From<Value> for Key {
    fn from(v: Value) -> Self {
        Key(vec![Atom::Value(v)])
    }
}

impl From<Atom> for Key {
    fn from(a: Atom) -> Self {
        Key(vec![a])
    }
}

impl<const N: usize> From<[Value; N]> for Key {
    fn from(vs: [Value; N]) -> Self {
        Key(vs.into_iter().map(Atom::Value).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_and_ranges_contain_what_they_cover() {
        let net = Atom::Prefix(ip("10.244.0.0"), 16);
        assert!(net.contains(&Value::ip(ip("10.244.255.1"))));
        assert!(!net.contains(&Value::ip(ip("10.245.0.1"))));
        assert!(!net.contains(&Value::ip(ip("fd00::1"))), "another family");
        assert!(Atom::Prefix(ip("0.0.0.0"), 0).contains(&Value::ip(ip("192.0.2.1"))));
        let v6 = Atom::Prefix(ip("fd00::"), 8);
        assert!(v6.contains(&Value::ip(ip("fd12::1"))));
        let ports = Atom::Range(Value::Port(1000), Value::Port(2000));
        assert!(ports.contains(&Value::Port(1000)) && ports.contains(&Value::Port(2000)));
        assert!(!ports.contains(&Value::Port(2001)));
        assert!(!ports.contains(&Value::Mark(1500)), "another type");
    }

    #[test]
    fn a_full_length_network_is_its_address() {
        assert_eq!(
            Atom::net(ip("10.0.0.1"), 32),
            Atom::Value(Value::ip(ip("10.0.0.1")))
        );
        assert_eq!(
            Atom::net(ip("10.0.0.0"), 8),
            Atom::Prefix(ip("10.0.0.0"), 8)
        );
        assert_eq!(
            Atom::net(ip("fd00::1"), 128),
            Atom::Value(Value::ip(ip("fd00::1")))
        );
    }

    #[test]
    fn concatenated_keys_match_field_by_field() {
        let k = Key(vec![
            Atom::Prefix(ip("10.0.0.0"), 8),
            Atom::Value(Value::Proto(proto::TCP)),
        ]);
        assert!(k.contains(&[Value::ip(ip("10.1.2.3")), Value::Proto(proto::TCP)]));
        assert!(!k.contains(&[Value::ip(ip("10.1.2.3")), Value::Proto(proto::UDP)]));
        assert!(!k.contains(&[Value::ip(ip("10.1.2.3"))]), "another length");
    }
}
