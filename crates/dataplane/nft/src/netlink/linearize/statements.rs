//! The statements that act on a packet: NAT (addresses and ports loaded into registers
//! first), reject (ICMP, ICMPv6 or ICMPX codes by family; a TCP reset after the `meta l4proto
//! tcp` dependency nft adds), and verdicts as data.

use std::net::IpAddr;

use super::{Linearizer, REG_1, REG_2};
use crate::expr::{CmpOp, Ip6Field, IpField, MetaKey, NatTo, RejectWith, Selector, Verdict};
use crate::netlink::elements;
use crate::netlink::wire::Attrs;
use crate::types::{Family, Value, proto};

/// `NFTA_DATA_VERDICT`.
const DATA_VERDICT: u16 = 2;

/// `NFPROTO_*` of an address.
fn nfproto(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 2 } else { 10 }
}

impl Linearizer<'_> {
    pub(super) fn nat(&mut self, ty: u32, to: &NatTo) -> Result<(), String> {
        // As nft: a port needs the rule to have matched a transport protocol before.
        let transport = self.deps.iter().any(|(s, _)| {
            matches!(
                s,
                Selector::Meta(MetaKey::L4proto)
                    | Selector::Ip(IpField::Protocol)
                    | Selector::Ip6(Ip6Field::Nexthdr)
            )
        });
        if to.port.is_some() && !transport {
            return Err("a NAT port needs a transport protocol match before it".to_owned());
        }
        self.immediate(REG_1, &elements::addr_bytes(to.addr));
        if let Some(p) = to.port {
            self.immediate(REG_2, &p.to_be_bytes());
        }
        let family = u32::from(nfproto(to.addr));
        let port = to.port.is_some();
        self.emit("nat", |a| {
            a.u32(1, ty).u32(2, family).u32(3, REG_1);
            if port {
                // NF_NAT_RANGE_PROTO_SPECIFIED.
                a.u32(5, REG_2).u32(7, 0x2);
            }
        });
        Ok(())
    }

    pub(super) fn reject(&mut self, with: RejectWith) -> Result<(), String> {
        // NFT_REJECT_ICMP_UNREACH 0, NFT_REJECT_TCP_RST 1, NFT_REJECT_ICMPX_UNREACH 2.
        let (ty, code): (u32, u8) = match (with, self.family) {
            (RejectWith::TcpReset, _) => {
                let need = (Selector::Meta(MetaKey::L4proto), Value::Proto(proto::TCP));
                if !self.deps.contains(&need) {
                    self.load_no_dep(need.0, REG_1, None)?;
                    self.cmp(REG_1, CmpOp::Eq, &[proto::TCP]);
                    self.deps.push(need);
                }
                (1, 0)
            }
            // ICMPX codes: no-route 0, port-unreach 1, host-unreach 2, admin-prohibited 3.
            (w, Family::Inet) => (
                2,
                match w {
                    RejectWith::NetUnreachable => 0,
                    RejectWith::PortUnreachable => 1,
                    RejectWith::HostUnreachable => 2,
                    _ => 3,
                },
            ),
            (w, Family::Ip) => (
                0,
                match w {
                    RejectWith::NetUnreachable => 0,
                    RejectWith::HostUnreachable => 1,
                    RejectWith::PortUnreachable => 3,
                    _ => 13,
                },
            ),
            (w, Family::Ip6) => (
                0,
                match w {
                    RejectWith::NetUnreachable => 0,
                    RejectWith::AdminProhibited => 1,
                    RejectWith::HostUnreachable => 3,
                    _ => 4,
                },
            ),
        };
        self.emit("reject", |a| {
            a.u32(1, ty).u8(2, code);
        });
        Ok(())
    }
}

/// A verdict as `NFTA_DATA_VERDICT`.
pub fn verdict(a: &mut Attrs, v: &Verdict) {
    // NF_DROP 0, NF_ACCEPT 1, NFT_CONTINUE -1, NFT_JUMP -3, NFT_GOTO -4, NFT_RETURN -5.
    let (code, chain): (i32, Option<&str>) = match v {
        Verdict::Accept => (1, None),
        Verdict::Drop => (0, None),
        Verdict::Continue => (-1, None),
        Verdict::Return => (-5, None),
        Verdict::Jump(c) => (-3, Some(c)),
        Verdict::Goto(c) => (-4, Some(c)),
    };
    a.nest(DATA_VERDICT, |a| {
        a.u32(1, code as u32);
        if let Some(c) = chain {
            a.str(2, c);
        }
    });
}
