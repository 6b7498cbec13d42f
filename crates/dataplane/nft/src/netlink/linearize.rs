//! Rule expressions → nf_tables expressions, the way nft's netlink_linearize.c writes them
//! (so `nft list` prints a rule written here exactly as one written by `nft -f`): selectors
//! loaded into registers (concatenations in consecutive 32-bit registers), the protocol
//! dependency nft adds before a transport header (`meta l4proto tcp`) or, in `inet`
//! tables, a network header (`meta nfproto ipv4`), prefixes compared on their leading
//! bytes, ranges as `>=`/`<=`, flag types (`ct state`) as "any of these bits", anonymous
//! sets and maps created in the same batch and referenced by id.

mod statements;

pub use statements::verdict;

use super::elements;
use super::encode::AnonSet;
use super::wire::Attrs;
use crate::expr::{
    CmpOp, CtKey, Expr, FibAddr, IcmpField, Ip6Field, IpField, MarkOp, Match, MetaKey, PortField,
    RateUnit, Rhs, Selector, Transport, VmapRef,
};
use crate::object::MapData;
use crate::types::{Atom, DataType, Family, Key, Value, proto};

const LIST_ELEM: u16 = 1;
const EXPR_NAME: u16 = 1;
const EXPR_DATA: u16 = 2;
const DATA_VALUE: u16 = 1;

/// `NFT_REG_VERDICT` and the 128-bit `NFT_REG_1`, `NFT_REG_2`.
const REG_VERDICT: u32 = 0;
const REG_1: u32 = 1;
const REG_2: u32 = 2;
/// `NFT_REG32_00`: 32-bit registers number from here.
const REG32_00: u32 = 8;

/// Payload bases.
const NETWORK: u32 = 1;
const TRANSPORT: u32 = 2;

/// A rule's expressions being written, with the anonymous sets they need.
pub struct Linearizer<'a> {
    family: Family,
    out: Attrs,
    /// Dependencies the rule has established so far: `(selector, value)`.
    deps: Vec<(Selector, Value)>,
    pub anon: Vec<AnonSet>,
    next_set_id: &'a mut u32,
}

impl<'a> Linearizer<'a> {
    pub fn new(family: Family, next_set_id: &'a mut u32) -> Self {
        Self {
            family,
            out: Attrs::new(),
            deps: Vec::new(),
            anon: Vec::new(),
            next_set_id,
        }
    }

    /// The rule's `NFTA_RULE_EXPRESSIONS` content.
    pub fn finish(self) -> (Attrs, Vec<AnonSet>) {
        (self.out, self.anon)
    }

    pub fn expr(&mut self, e: &Expr) -> Result<(), String> {
        match e {
            Expr::Match(m) => self.match_(m),
            Expr::Vmap { key, map } => {
                self.load_all(key)?;
                let (name, id) = match map {
                    VmapRef::Named(n) => (n.clone(), None),
                    VmapRef::Anon(elems) => {
                        let keys = key.iter().map(|s| s.data_type()).collect();
                        let elements = elems
                            .iter()
                            .map(|(k, v)| crate::object::Element::verdict(k.clone(), v.clone()))
                            .collect();
                        let (n, id) = self.anon_set(keys, Some(MapData::Verdict), elements);
                        (n, Some(id))
                    }
                };
                self.lookup(&name, id, Some(REG_VERDICT), false);
                Ok(())
            }
            Expr::Counter => {
                self.emit("counter", |a| {
                    a.u64(1, 0).u64(2, 0);
                });
                Ok(())
            }
            Expr::Limit { rate, per, burst } => {
                let unit: u64 = match per {
                    RateUnit::Second => 1,
                    RateUnit::Minute => 60,
                    RateUnit::Hour => 3600,
                    RateUnit::Day => 86400,
                };
                // nft's default burst is 5 packets.
                let burst = burst.unwrap_or(5);
                self.emit("limit", |a| {
                    a.u64(1, u64::from(*rate))
                        .u64(2, unit)
                        .u32(3, burst)
                        .u32(4, 0)
                        .u32(5, 0);
                });
                Ok(())
            }
            Expr::Log { prefix } => {
                self.emit("log", |a| {
                    if let Some(p) = prefix {
                        a.str(2, p);
                    }
                });
                Ok(())
            }
            Expr::MarkSet(op) => {
                let (mask, xor) = match *op {
                    MarkOp::Set(v) => {
                        self.immediate(REG_1, &v.to_ne_bytes());
                        return self.meta_set_mark();
                    }
                    MarkOp::Or(v) => (!v, v),
                    MarkOp::Xor(v) => (u32::MAX, v),
                    MarkOp::And(v) => (v, 0),
                };
                self.load(Selector::Meta(MetaKey::Mark), REG_1)?;
                self.bitwise(REG_1, &mask.to_ne_bytes(), &xor.to_ne_bytes());
                self.meta_set_mark()
            }
            Expr::SetUpdate { set, key } => {
                self.load_all(key)?;
                self.emit("dynset", |a| {
                    // NFT_DYNSET_OP_UPDATE.
                    a.str(1, set).u32(3, 1).u32(4, REG_1);
                });
                Ok(())
            }
            Expr::Dnat(to) => self.nat(1, to),
            Expr::Snat(to) => self.nat(0, to),
            Expr::Masquerade { fully_random } => {
                self.emit("masq", |a| {
                    if *fully_random {
                        // NF_NAT_RANGE_PROTO_RANDOM_FULLY.
                        a.u32(1, 0x10);
                    }
                });
                Ok(())
            }
            Expr::Reject(with) => self.reject(*with),
            Expr::Verdict(v) => {
                self.emit("immediate", |a| {
                    a.u32(1, REG_VERDICT);
                    a.nest(2, |a| verdict(a, v));
                });
                Ok(())
            }
        }
    }

    fn match_(&mut self, m: &Match) -> Result<(), String> {
        match (&m.right, m.left.as_slice()) {
            (Rhs::Set(name), left) => {
                self.load_all(left)?;
                self.lookup(name, None, None, m.op == CmpOp::Ne);
            }
            (Rhs::AnonSet(keys), left) => {
                self.load_all(left)?;
                let types = left.iter().map(|s| s.data_type()).collect();
                let elements = keys
                    .iter()
                    .map(|k| crate::object::Element::key(k.clone()))
                    .collect();
                let (name, id) = self.anon_set(types, None, elements);
                self.lookup(&name, Some(id), None, m.op == CmpOp::Ne);
            }
            (Rhs::Key(Key(atoms)), [sel]) if atoms.len() == 1 => {
                self.single(*sel, m.mask, m.op, &atoms[0])?;
                if let (CmpOp::Eq, Atom::Value(v)) = (m.op, &atoms[0]) {
                    self.deps.push((*sel, v.clone()));
                }
            }
            (Rhs::Key(key), left) => {
                // A concatenation compared with one concatenated value.
                self.load_all(left)?;
                let bytes = elements::key_bytes(key, true)?;
                self.cmp(REG_1, m.op, &bytes);
            }
        }
        Ok(())
    }

    fn single(
        &mut self,
        sel: Selector,
        mask: Option<u32>,
        op: CmpOp,
        atom: &Atom,
    ) -> Result<(), String> {
        match atom {
            Atom::Value(v) => {
                let bytes = elements::value_bytes(v);
                self.load(sel, REG_1)?;
                if let Some(mask) = mask {
                    self.bitwise(REG_1, &mask.to_ne_bytes(), &[0; 4]);
                    self.cmp(REG_1, op, &bytes);
                } else if sel.is_flags() && op == CmpOp::Eq {
                    // "any of these bits": (x & bits) != 0.
                    self.bitwise(REG_1, &bytes, &vec![0; bytes.len()]);
                    self.cmp(REG_1, CmpOp::Ne, &vec![0; bytes.len()]);
                } else {
                    self.cmp(REG_1, op, &bytes);
                }
            }
            Atom::Prefix(addr, len) => {
                let full = elements::addr_bytes(*addr);
                let whole = usize::from(*len) / 8;
                if usize::from(*len).is_multiple_of(8) {
                    // Only the prefix's bytes are loaded and compared.
                    self.load_shortened(sel, whole)?;
                    self.cmp(REG_1, op, &full[..whole]);
                } else {
                    let n = whole + 1;
                    self.load_shortened(sel, n)?;
                    let mask = prefix_mask(*len, n);
                    self.bitwise(REG_1, &mask, &vec![0; n]);
                    let net: Vec<u8> = full[..n].iter().zip(&mask).map(|(a, m)| a & m).collect();
                    self.cmp(REG_1, op, &net);
                }
            }
            Atom::Range(lo, hi) => {
                self.load(sel, REG_1)?;
                let (lo, hi) = (elements::value_bytes(lo), elements::value_bytes(hi));
                match op {
                    CmpOp::Eq => {
                        // NFT_CMP_GTE, NFT_CMP_LTE.
                        self.cmp_raw(REG_1, 5, &lo);
                        self.cmp_raw(REG_1, 3, &hi);
                    }
                    CmpOp::Ne => self.emit("range", |a| {
                        a.u32(1, REG_1).u32(2, 1);
                        a.nest(3, |a| {
                            a.bytes(DATA_VALUE, &lo);
                        });
                        a.nest(4, |a| {
                            a.bytes(DATA_VALUE, &hi);
                        });
                    }),
                }
            }
        }
        Ok(())
    }

    /// Loads `selectors` as nft does a concatenation: the first into `NFT_REG_1`, the next
    /// into the 32-bit registers after the words the previous ones take.
    fn load_all(&mut self, selectors: &[Selector]) -> Result<(), String> {
        for s in selectors {
            self.dependency(*s)?;
        }
        let mut word = 0u32;
        for s in selectors {
            let reg = if word == 0 { REG_1 } else { REG32_00 + word };
            self.load_no_dep(*s, reg, None)?;
            word += super::decode::field_len(s.data_type()).div_ceil(4) as u32;
        }
        Ok(())
    }

    fn load(&mut self, sel: Selector, reg: u32) -> Result<(), String> {
        self.dependency(sel)?;
        self.load_no_dep(sel, reg, None)
    }

    fn load_shortened(&mut self, sel: Selector, len: usize) -> Result<(), String> {
        self.dependency(sel)?;
        self.load_no_dep(sel, REG_1, Some(len))
    }

    /// The protocol match nft puts before a header field, unless the rule has it already.
    fn dependency(&mut self, sel: Selector) -> Result<(), String> {
        let need = match (sel, self.family) {
            (Selector::Port(t, _), _) => {
                let p = match t {
                    Transport::Tcp => proto::TCP,
                    Transport::Udp => proto::UDP,
                    Transport::Sctp => proto::SCTP,
                    Transport::Th => return Ok(()),
                };
                (Selector::Meta(MetaKey::L4proto), Value::Proto(p))
            }
            (Selector::Icmp(_), Family::Ip6) => (
                Selector::Meta(MetaKey::L4proto),
                Value::Proto(proto::ICMPV6),
            ),
            (Selector::Icmp(_), _) => (Selector::Meta(MetaKey::L4proto), Value::Proto(proto::ICMP)),
            (Selector::Ip(_), Family::Inet) => {
                (Selector::Meta(MetaKey::Nfproto), Value::NfProto(2))
            }
            (Selector::Ip6(_), Family::Inet) => {
                (Selector::Meta(MetaKey::Nfproto), Value::NfProto(10))
            }
            _ => return Ok(()),
        };
        if self.deps.contains(&need) {
            return Ok(());
        }
        self.load_no_dep(need.0, REG_1, None)?;
        self.cmp(REG_1, CmpOp::Eq, &elements::value_bytes(&need.1));
        self.deps.push(need);
        Ok(())
    }

    fn load_no_dep(&mut self, sel: Selector, reg: u32, len: Option<usize>) -> Result<(), String> {
        let payload = |base: u32, offset: u32, full: usize| (base, offset, len.unwrap_or(full));
        let (base, offset, n) = match sel {
            Selector::Ip(f) => match f {
                IpField::Saddr => payload(NETWORK, 12, 4),
                IpField::Daddr => payload(NETWORK, 16, 4),
                IpField::Protocol => payload(NETWORK, 9, 1),
            },
            Selector::Ip6(f) => match f {
                Ip6Field::Saddr => payload(NETWORK, 8, 16),
                Ip6Field::Daddr => payload(NETWORK, 24, 16),
                Ip6Field::Nexthdr => payload(NETWORK, 6, 1),
            },
            Selector::Port(_, PortField::Sport) => payload(TRANSPORT, 0, 2),
            Selector::Port(_, PortField::Dport) => payload(TRANSPORT, 2, 2),
            Selector::Icmp(IcmpField::Type) => payload(TRANSPORT, 0, 1),
            Selector::Icmp(IcmpField::Code) => payload(TRANSPORT, 1, 1),
            Selector::Meta(k) => {
                let key = match k {
                    MetaKey::Mark => 3,
                    MetaKey::Iifname => 6,
                    MetaKey::Oifname => 7,
                    MetaKey::Nfproto => 15,
                    MetaKey::L4proto => 16,
                };
                self.emit("meta", |a| {
                    a.u32(1, reg).u32(2, key);
                });
                return Ok(());
            }
            Selector::Ct(k) => {
                let key = match k {
                    CtKey::State => 0,
                    CtKey::Status => 2,
                    CtKey::Mark => 3,
                };
                self.emit("ct", |a| {
                    a.u32(1, reg).u32(2, key);
                });
                return Ok(());
            }
            Selector::Fib(f) => {
                // NFTA_FIB_F_SADDR / _DADDR; NFT_FIB_RESULT_ADDRTYPE.
                let flags = match f {
                    FibAddr::Saddr => 1,
                    FibAddr::Daddr => 2,
                };
                self.emit("fib", |a| {
                    a.u32(1, reg).u32(2, 3).u32(3, flags);
                });
                return Ok(());
            }
            Selector::Numgen { modulus } => {
                // NFT_NG_RANDOM.
                self.emit("numgen", |a| {
                    a.u32(1, reg).u32(2, modulus).u32(3, 1);
                });
                return Ok(());
            }
        };
        self.emit("payload", |a| {
            a.u32(1, reg).u32(2, base).u32(3, offset).u32(4, n as u32);
        });
        Ok(())
    }

    fn anon_set(
        &mut self,
        key: Vec<DataType>,
        data: Option<MapData>,
        elements: Vec<crate::object::Element>,
    ) -> (String, u32) {
        *self.next_set_id += 1;
        let id = *self.next_set_id;
        let name = if data.is_some() { "__map%d" } else { "__set%d" }.to_owned();
        let interval = elements
            .iter()
            .any(|e| e.key.0.iter().any(Atom::is_interval));
        self.anon.push(AnonSet {
            name: name.clone(),
            id,
            key,
            data,
            interval,
            elements,
        });
        (name, id)
    }

    fn lookup(&mut self, set: &str, id: Option<u32>, dreg: Option<u32>, invert: bool) {
        self.emit("lookup", |a| {
            a.str(1, set).u32(2, REG_1);
            if let Some(d) = dreg {
                a.u32(3, d);
            }
            if let Some(id) = id {
                a.u32(4, id);
            }
            if invert {
                // NFT_LOOKUP_F_INV.
                a.u32(5, 1);
            }
        });
    }

    fn immediate(&mut self, reg: u32, value: &[u8]) {
        self.emit("immediate", |a| {
            a.u32(1, reg);
            a.nest(2, |a| {
                a.bytes(DATA_VALUE, value);
            });
        });
    }

    fn meta_set_mark(&mut self) -> Result<(), String> {
        self.emit("meta", |a| {
            a.u32(2, 3).u32(3, REG_1);
        });
        Ok(())
    }

    fn bitwise(&mut self, reg: u32, mask: &[u8], xor: &[u8]) {
        self.emit("bitwise", |a| {
            a.u32(1, reg).u32(2, reg).u32(3, mask.len() as u32);
            a.nest(4, |a| {
                a.bytes(DATA_VALUE, mask);
            });
            a.nest(5, |a| {
                a.bytes(DATA_VALUE, xor);
            });
        });
    }

    fn cmp(&mut self, reg: u32, op: CmpOp, data: &[u8]) {
        // NFT_CMP_EQ, NFT_CMP_NEQ.
        let op = match op {
            CmpOp::Eq => 0,
            CmpOp::Ne => 1,
        };
        self.cmp_raw(reg, op, data);
    }

    fn cmp_raw(&mut self, reg: u32, op: u32, data: &[u8]) {
        self.emit("cmp", |a| {
            a.u32(1, reg).u32(2, op);
            a.nest(3, |a| {
                a.bytes(DATA_VALUE, data);
            });
        });
    }

    fn emit(&mut self, name: &str, body: impl FnOnce(&mut Attrs)) {
        self.out.nest(LIST_ELEM, |a| {
            a.str(EXPR_NAME, name);
            a.nest(EXPR_DATA, body);
        });
    }
}

/// The first `n` bytes of a /`len` mask.
fn prefix_mask(len: u8, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            let bits = usize::from(len).saturating_sub(i * 8).min(8);
            if bits == 0 { 0 } else { 0xffu8 << (8 - bits) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_masks_cover_the_leading_bits() {
        assert_eq!(prefix_mask(12, 2), [0xff, 0xf0]);
        assert_eq!(prefix_mask(9, 2), [0xff, 0x80]);
        assert_eq!(prefix_mask(20, 3), [0xff, 0xff, 0xf0]);
    }
}
