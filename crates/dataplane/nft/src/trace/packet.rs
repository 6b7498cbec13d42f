//! The packet the tracer walks: addresses, protocol, ports, interfaces, marks, conntrack.

use std::net::IpAddr;

use crate::expr::{CtKey, FibAddr, IcmpField, Ip6Field, IpField, MetaKey, Selector, Transport};
use crate::types::{AddrType, Family, Value, proto};

/// A packet and what the kernel knows about it when a hook runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub saddr: IpAddr,
    pub daddr: IpAddr,
    /// IP protocol number ([`crate::types::proto`]).
    pub l4proto: u8,
    pub sport: u16,
    pub dport: u16,
    pub icmp_type: u8,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub mark: u32,
    /// [`crate::types::ct_state`] bits.
    pub ct_state: u32,
    /// [`crate::types::ct_status`] bits.
    pub ct_status: u32,
    pub ct_mark: u32,
    /// The host's own addresses: what `fib … type local` finds.
    pub local: Vec<IpAddr>,
}

// === impl Packet ===

impl Packet {
    /// A new connection's first packet from `saddr:sport` to `daddr:dport`.
    pub fn new(l4proto: u8, saddr: IpAddr, sport: u16, daddr: IpAddr, dport: u16) -> Self {
        Self {
            saddr,
            daddr,
            l4proto,
            sport,
            dport,
            icmp_type: 0,
            iif: None,
            oif: None,
            mark: 0,
            ct_state: crate::types::ct_state::NEW,
            ct_status: 0,
            ct_mark: 0,
            local: Vec::new(),
        }
    }

    pub fn tcp(saddr: IpAddr, daddr: IpAddr, dport: u16) -> Self {
        Self::new(proto::TCP, saddr, 40000, daddr, dport)
    }

    pub fn udp(saddr: IpAddr, daddr: IpAddr, dport: u16) -> Self {
        Self::new(proto::UDP, saddr, 40000, daddr, dport)
    }

    pub fn with_iif(mut self, iif: &str) -> Self {
        self.iif = Some(iif.to_owned());
        self
    }

    pub fn with_local(mut self, addrs: &[IpAddr]) -> Self {
        self.local = addrs.to_vec();
        self
    }

    pub fn with_ct_state(mut self, bits: u32) -> Self {
        self.ct_state = bits;
        self
    }

    pub fn with_mark(mut self, mark: u32) -> Self {
        self.mark = mark;
        self
    }

    /// Which tables see this packet.
    pub fn seen_by(&self, family: Family) -> bool {
        match family {
            Family::Inet => true,
            Family::Ip => self.saddr.is_ipv4(),
            Family::Ip6 => self.saddr.is_ipv6(),
        }
    }

    /// What `sel` reads from this packet; `None` where the header is not there (a `tcp dport`
    /// of a UDP packet), which no match accepts. `numgen` is drawn by the tracer, not read.
    pub fn read(&self, sel: Selector) -> Option<Value> {
        let v4 = |a: IpAddr| match a {
            IpAddr::V4(a) => Some(Value::Ipv4(a)),
            IpAddr::V6(_) => None,
        };
        let v6 = |a: IpAddr| match a {
            IpAddr::V6(a) => Some(Value::Ipv6(a)),
            IpAddr::V4(_) => None,
        };
        match sel {
            Selector::Ip(IpField::Saddr) => v4(self.saddr),
            Selector::Ip(IpField::Daddr) => v4(self.daddr),
            Selector::Ip(IpField::Protocol) => {
                self.saddr.is_ipv4().then_some(Value::Proto(self.l4proto))
            }
            Selector::Ip6(Ip6Field::Saddr) => v6(self.saddr),
            Selector::Ip6(Ip6Field::Daddr) => v6(self.daddr),
            Selector::Ip6(Ip6Field::Nexthdr) => {
                self.saddr.is_ipv6().then_some(Value::Proto(self.l4proto))
            }
            Selector::Port(t, f) => {
                let carries = match t {
                    Transport::Tcp => self.l4proto == proto::TCP,
                    Transport::Udp => self.l4proto == proto::UDP,
                    Transport::Sctp => self.l4proto == proto::SCTP,
                    Transport::Th => [proto::TCP, proto::UDP, proto::SCTP].contains(&self.l4proto),
                };
                let port = match f {
                    crate::expr::PortField::Sport => self.sport,
                    crate::expr::PortField::Dport => self.dport,
                };
                carries.then_some(Value::Port(port))
            }
            Selector::Icmp(field) => (self.l4proto == proto::ICMP).then_some(match field {
                IcmpField::Type => Value::IcmpType(self.icmp_type),
                IcmpField::Code => Value::Integer(0),
            }),
            Selector::Meta(MetaKey::L4proto) => Some(Value::Proto(self.l4proto)),
            Selector::Meta(MetaKey::Iifname) => self.iif.clone().map(Value::IfName),
            Selector::Meta(MetaKey::Oifname) => self.oif.clone().map(Value::IfName),
            Selector::Meta(MetaKey::Mark) => Some(Value::Mark(self.mark)),
            Selector::Meta(MetaKey::Nfproto) => {
                Some(Value::NfProto(if self.saddr.is_ipv4() { 2 } else { 10 }))
            }
            Selector::Ct(CtKey::State) => Some(Value::CtState(self.ct_state)),
            Selector::Ct(CtKey::Status) => Some(Value::CtStatus(self.ct_status)),
            Selector::Ct(CtKey::Mark) => Some(Value::Mark(self.ct_mark)),
            Selector::Fib(which) => {
                let addr = match which {
                    FibAddr::Saddr => self.saddr,
                    FibAddr::Daddr => self.daddr,
                };
                Some(Value::AddrType(self.addr_type(addr)))
            }
            Selector::Numgen { .. } => None,
        }
    }

    fn addr_type(&self, addr: IpAddr) -> AddrType {
        if self.local.contains(&addr) || addr.is_loopback() {
            AddrType::Local
        } else if addr.is_multicast() {
            AddrType::Multicast
        } else if addr == IpAddr::from([255, 255, 255, 255]) {
            AddrType::Broadcast
        } else {
            AddrType::Unicast
        }
    }
}
