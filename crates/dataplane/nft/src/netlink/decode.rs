//! nf_tables netlink attributes → podnet-nft's types: chains, rules' handles and comments,
//! set declarations (nft's type ids, concatenations of 6-bit ids) and elements (bytes per
//! field, 32-bit aligned in concatenations; intervals as start/end elements, or as key and
//! inclusive key end in concatenated sets).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::Nla;
use netlink_packet_netfilter::nftables::{
    ChainAttribute, DataAttribute, Hook as NlHook, HookNumber, InetHookNumber, ListAttribute,
    RuleAttribute, SetAttribute, SetElementAttribute, SetElementFlags, SetElementList,
    SetElementMessage, SetFlags as NlSetFlags, Verdict as NlVerdict, VerdictAttribute,
};

use super::{ListedChain, ListedRule, Read};
use crate::expr::Verdict;
use crate::object::{
    BaseChain, ChainType, ElemData, ElemExtra, Hook, MapData, Policy, SetDecl, SetFlags,
};
use crate::types::{AddrType, Atom, DataType, Key, Value};

/// nft's datatype ids (nftables' `enum datatypes`).
pub const TYPE_IDS: [(u32, DataType); 12] = [
    (2, DataType::NfProto),
    (4, DataType::Integer),
    (7, DataType::Ipv4Addr),
    (8, DataType::Ipv6Addr),
    (12, DataType::InetProto),
    (13, DataType::InetService),
    (14, DataType::IcmpType),
    (19, DataType::Mark),
    (26, DataType::CtState),
    (28, DataType::CtStatus),
    (38, DataType::FibAddrType),
    (41, DataType::IfName),
];
/// Bits per field in a concatenation's type id.
pub const TYPE_BITS: u32 = 6;
/// `NFT_DATA_VERDICT`: the data type of a verdict map.
pub const DATA_VERDICT: u32 = 0xffff_ff00;
/// libnftnl's user data: a set's comment, and a rule's or element's.
pub const UDATA_SET_COMMENT: u8 = 7;
pub const UDATA_COMMENT: u8 = 0;

pub fn in_table(attrs: &[ChainAttribute], table: &str) -> bool {
    attrs
        .iter()
        .any(|a| matches!(a, ChainAttribute::Table(t) if t == table))
}

pub fn chain(attrs: &[ChainAttribute]) -> Read<(String, ListedChain)> {
    let mut name = None;
    let mut handle = 0;
    let (mut hook, mut priority, mut ty, mut policy) = (None, 0i32, None, Policy::Accept);
    for a in attrs {
        match a {
            ChainAttribute::Name(n) => name = Some(n.clone()),
            ChainAttribute::Handle(h) => handle = *h,
            ChainAttribute::Hook(parts) => {
                for p in parts {
                    match p {
                        NlHook::Number(HookNumber::Inet(n)) => hook = Some(inet_hook(*n)?),
                        NlHook::Priority(v) => priority = *v as i32,
                        _ => {}
                    }
                }
            }
            ChainAttribute::Type(t) => {
                ty = Some(match t.as_str() {
                    "filter" => ChainType::Filter,
                    "nat" => ChainType::Nat,
                    "route" => ChainType::Route,
                    t => return Err(format!("chain type {t}")),
                })
            }
            // NF_DROP is 0, NF_ACCEPT 1.
            ChainAttribute::Policy(0) => policy = Policy::Drop,
            _ => {}
        }
    }
    let name = name.ok_or("a chain without a name")?;
    let base = match (hook, ty) {
        (Some(hook), Some(ty)) => Some(BaseChain {
            ty,
            hook,
            priority,
            policy,
        }),
        _ => None,
    };
    Ok((
        name,
        ListedChain {
            handle,
            base,
            rules: Vec::new(),
        },
    ))
}

fn inet_hook(n: InetHookNumber) -> Read<Hook> {
    Ok(match n {
        InetHookNumber::PreRouting => Hook::Prerouting,
        InetHookNumber::LocalIn => Hook::Input,
        InetHookNumber::Forward => Hook::Forward,
        InetHookNumber::LocalOut => Hook::Output,
        InetHookNumber::PostRouting => Hook::Postrouting,
        other => return Err(format!("hook {other:?}")),
    })
}

pub fn rule(attrs: &[RuleAttribute]) -> Read<(String, ListedRule)> {
    let mut chain = None;
    let mut rule = ListedRule {
        handle: 0,
        comment: None,
    };
    for a in attrs {
        match a {
            RuleAttribute::Chain(c) => chain = Some(c.clone()),
            RuleAttribute::Handle(h) => rule.handle = *h,
            RuleAttribute::UserData(u) => rule.comment = udata(u, UDATA_COMMENT),
            _ => {}
        }
    }
    Ok((chain.ok_or("a rule without a chain")?, rule))
}

/// The string of type `ty` in libnftnl's user data TLVs (type, length, value).
fn udata(bytes: &[u8], ty: u8) -> Option<String> {
    let mut rest = bytes;
    while let [t, len, tail @ ..] = rest {
        let len = usize::from(*len);
        let value = tail.get(..len)?;
        if *t == ty {
            let s = value.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(s).into_owned());
        }
        rest = &tail[len..];
    }
    None
}

fn data_type(id: u32) -> Read<DataType> {
    TYPE_IDS
        .iter()
        .find(|(n, _)| *n == id)
        .map(|(_, t)| *t)
        .ok_or_else(|| format!("nft type id {id}"))
}

/// The field types of a key type id: one type, or a concatenation of 6-bit ids (the first
/// field in the highest bits).
fn key_types(mut id: u32) -> Read<Vec<DataType>> {
    if data_type(id).is_ok() {
        return Ok(vec![data_type(id)?]);
    }
    let mut fields = Vec::new();
    while id != 0 {
        fields.push(data_type(id & ((1 << TYPE_BITS) - 1))?);
        id >>= TYPE_BITS;
    }
    fields.reverse();
    Ok(fields)
}

/// A named set's declaration; `None` for an anonymous one.
pub fn set(attrs: &[SetAttribute]) -> Read<Option<SetDecl>> {
    let (mut name, mut flags, mut key, mut data, mut timeout, mut comment) =
        (None, NlSetFlags::empty(), None, None, None, None);
    for a in attrs {
        match a {
            SetAttribute::Name(n) => name = Some(n.clone()),
            SetAttribute::Flags(f) => flags = *f,
            SetAttribute::KeyType(t) => key = Some(key_types(*t)?),
            SetAttribute::DataType(DATA_VERDICT) => data = Some(MapData::Verdict),
            SetAttribute::DataType(t) => data = Some(MapData::Type(data_type(*t)?)),
            // Milliseconds.
            SetAttribute::Timeout(ms) => timeout = Some((*ms / 1000) as u32),
            SetAttribute::UserData(u) => comment = udata(u, UDATA_SET_COMMENT),
            _ => {}
        }
    }
    if flags.contains(NlSetFlags::Anonymous) {
        return Ok(None);
    }
    Ok(Some(SetDecl {
        name: name.ok_or("a set without a name")?,
        key: key.ok_or("a set without a key type")?,
        data,
        flags: SetFlags {
            interval: flags.contains(NlSetFlags::Interval),
            timeout: flags.contains(NlSetFlags::Timeout),
            dynamic: flags.contains(NlSetFlags::Eval),
        },
        timeout,
        comment,
    }))
}

/// Bytes a field of `t` takes in a key.
pub fn field_len(t: DataType) -> usize {
    match t {
        DataType::Ipv6Addr | DataType::IfName => 16,
        DataType::InetProto | DataType::IcmpType | DataType::NfProto => 1,
        DataType::InetService => 2,
        _ => 4,
    }
}

fn value(t: DataType, b: &[u8]) -> Read<Value> {
    let bad = || format!("{} bytes are no {}", b.len(), t.name());
    let host_u32 = || -> Read<u32> { Ok(u32::from_ne_bytes(b.try_into().map_err(|_| bad())?)) };
    Ok(match t {
        DataType::Ipv4Addr => {
            let a: [u8; 4] = b.try_into().map_err(|_| bad())?;
            Value::Ipv4(Ipv4Addr::from(a))
        }
        DataType::Ipv6Addr => {
            let a: [u8; 16] = b.try_into().map_err(|_| bad())?;
            Value::Ipv6(Ipv6Addr::from(a))
        }
        DataType::InetProto => Value::Proto(*b.first().ok_or_else(bad)?),
        DataType::IcmpType => Value::IcmpType(*b.first().ok_or_else(bad)?),
        DataType::NfProto => Value::NfProto(*b.first().ok_or_else(bad)?),
        DataType::InetService => Value::Port(u16::from_be_bytes(b.try_into().map_err(|_| bad())?)),
        DataType::Mark => Value::Mark(host_u32()?),
        DataType::Integer => Value::Integer(host_u32()?),
        DataType::CtState => Value::CtState(host_u32()?),
        DataType::CtStatus => Value::CtStatus(host_u32()?),
        DataType::IfName => {
            let s = b.split(|c| *c == 0).next().unwrap_or_default();
            Value::IfName(String::from_utf8_lossy(s).into_owned())
        }
        DataType::FibAddrType => Value::AddrType(match host_u32()? {
            1 => AddrType::Unicast,
            2 => AddrType::Local,
            3 => AddrType::Broadcast,
            5 => AddrType::Multicast,
            n => return Err(format!("fib address type {n}")),
        }),
    })
}

/// Splits a key's bytes into its fields (padded to 32 bits in a concatenation).
fn fields<'a>(types: &[DataType], bytes: &'a [u8]) -> Read<Vec<&'a [u8]>> {
    if let [t] = types {
        return Ok(vec![bytes.get(..field_len(*t)).ok_or("a short key")?]);
    }
    let mut out = Vec::new();
    let mut at = 0;
    for t in types {
        let len = field_len(*t);
        out.push(bytes.get(at..at + len).ok_or("a short concatenated key")?);
        at += len.div_ceil(4) * 4;
    }
    Ok(out)
}

fn be(b: &[u8]) -> u128 {
    b.iter().fold(0, |acc, x| (acc << 8) | u128::from(*x))
}

fn be_bytes(n: u128, len: usize) -> Vec<u8> {
    (0..len).rev().map(|i| (n >> (8 * i)) as u8).collect()
}

/// The atom covering `lo..=hi` (bytes in network order): a value, a prefix, or a range.
fn span_atom(t: DataType, lo: &[u8], hi: &[u8]) -> Read<Atom> {
    if lo == hi {
        return Ok(Atom::Value(value(t, lo)?));
    }
    let (l, h) = (be(lo), be(hi));
    if t.is_address() {
        let size = h.wrapping_sub(l).wrapping_add(1);
        let bits = (lo.len() * 8) as u32;
        if size.is_power_of_two() && l % size == 0 {
            let len = bits - size.trailing_zeros();
            let addr: IpAddr = match value(t, lo)? {
                Value::Ipv4(a) => a.into(),
                Value::Ipv6(a) => a.into(),
                _ => unreachable!("an address type"),
            };
            return Ok(Atom::Prefix(addr, len as u8));
        }
    }
    Ok(Atom::Range(value(t, lo)?, value(t, hi)?))
}

/// One element's attributes; a map's value data stays bytes until the map's type reads it.
struct Raw {
    key: Vec<u8>,
    key_end: Option<Vec<u8>>,
    end: bool,
    verdict: Option<Verdict>,
    value: Option<Vec<u8>>,
    comment: Option<String>,
}

fn raw(attrs: &[SetElementAttribute]) -> Read<Raw> {
    let mut r = Raw {
        key: Vec::new(),
        key_end: None,
        end: false,
        verdict: None,
        value: None,
        comment: None,
    };
    for a in attrs {
        match a {
            SetElementAttribute::Key(DataAttribute::Value(v)) => r.key.clone_from(v),
            SetElementAttribute::KeyEnd(nested) => {
                // NFTA_DATA_VALUE inside.
                if let Some(n) = nested.iter().find(|n| n.kind() == 1) {
                    let mut v = vec![0; n.value_len()];
                    n.emit_value(&mut v);
                    r.key_end = Some(v);
                }
            }
            SetElementAttribute::Flags(f) => r.end = f.contains(SetElementFlags::IntervalEnd),
            SetElementAttribute::Data(DataAttribute::Verdict(v)) => r.verdict = Some(verdict(v)?),
            SetElementAttribute::Data(DataAttribute::Value(v)) => r.value = Some(v.clone()),
            SetElementAttribute::UserData(u) => r.comment = udata(u, UDATA_COMMENT),
            _ => {}
        }
    }
    Ok(r)
}

fn verdict(attrs: &[VerdictAttribute]) -> Read<Verdict> {
    let mut code = None;
    let mut chain = None;
    for a in attrs {
        match a {
            VerdictAttribute::Code(c) => code = Some(*c),
            VerdictAttribute::Chain(c) => chain = Some(c.clone()),
            _ => {}
        }
    }
    let target = || chain.clone().ok_or("a jump without a chain");
    Ok(match code.ok_or("a verdict without a code")? {
        NlVerdict::Jump => Verdict::Jump(target()?),
        NlVerdict::Goto => Verdict::Goto(target()?),
        NlVerdict::Return => Verdict::Return,
        NlVerdict::Continue => Verdict::Continue,
        // NF_DROP, NF_ACCEPT.
        NlVerdict::Other(0) => Verdict::Drop,
        NlVerdict::Other(1) => Verdict::Accept,
        other => return Err(format!("verdict {other:?}")),
    })
}

/// The elements of `decl` from its GETSETELEM dump.
pub fn elements(decl: &SetDecl, lists: &[&SetElementMessage]) -> Read<BTreeMap<Key, ElemExtra>> {
    let mut raws = Vec::new();
    for m in lists {
        for l in &m.attributes {
            if let SetElementList::Elements(items) = l {
                for item in items {
                    if let ListAttribute::Element(attrs) = item {
                        raws.push(raw(attrs)?);
                    }
                }
            }
        }
    }
    let extra = |r: &Raw| -> Read<ElemExtra> {
        let data = match (decl.data, &r.verdict, &r.value) {
            (Some(MapData::Verdict), Some(v), _) => Some(ElemData::Verdict(v.clone())),
            (Some(MapData::Type(t)), _, Some(b)) => Some(ElemData::Value(value(
                t,
                b.get(..field_len(t)).ok_or("short map data")?,
            )?)),
            _ => None,
        };
        Ok(ElemExtra {
            data,
            comment: r.comment.clone(),
        })
    };
    let mut out = BTreeMap::new();
    if !decl.flags.interval {
        for r in raws {
            let parts = fields(&decl.key, &r.key)?;
            let key = Key(decl
                .key
                .iter()
                .zip(parts)
                .map(|(t, b)| value(*t, b).map(Atom::Value))
                .collect::<Read<_>>()?);
            out.insert(key, extra(&r)?);
        }
        return Ok(out);
    }
    if decl.key.len() > 1 {
        // Concatenated intervals: each element carries its inclusive end.
        for r in raws {
            let end = r.key_end.clone().unwrap_or_else(|| r.key.clone());
            let (lo, hi) = (fields(&decl.key, &r.key)?, fields(&decl.key, &end)?);
            let key = Key(decl
                .key
                .iter()
                .zip(lo.iter().zip(&hi))
                .map(|(t, (l, h))| span_atom(*t, l, h))
                .collect::<Read<_>>()?);
            out.insert(key, extra(&r)?);
        }
        return Ok(out);
    }
    // One field: starts, and ends flagged INTERVAL_END one past the last value.
    let t = decl.key[0];
    let len = field_len(t);
    raws.sort_by_key(|r| be(&r.key));
    let mut i = 0;
    while i < raws.len() {
        if raws[i].end {
            i += 1;
            continue;
        }
        let lo = raws[i].key.get(..len).ok_or("a short key")?.to_vec();
        let hi = match raws.get(i + 1).filter(|r| r.end) {
            Some(e) => be_bytes(be(&e.key[..len]).wrapping_sub(1), len),
            None => vec![0xff; len],
        };
        out.insert(Key(vec![span_atom(t, &lo, &hi)?]), extra(&raws[i])?);
        i += 1;
    }
    Ok(out)
}
