//! A transaction → one batch of nf_tables messages: tables, chains, rules (through
//! [`super::linearize`]), sets and their elements (through [`super::elements`]). Each message
//! remembers which operation it came from, so an error the kernel answers maps back to it.

use std::collections::BTreeMap;

use super::decode::{
    DATA_VERDICT, TYPE_BITS, TYPE_IDS, UDATA_COMMENT, UDATA_SET_COMMENT, field_len,
};
use super::elements::element_lists;
use super::linearize::Linearizer;
use super::wire::{Attrs, Batch, MsgType, NLM_F_APPEND, NLM_F_CREATE};
use crate::error::Refusal;
use crate::object::{
    BaseChain, ChainDecl, ChainType, Element, Hook, MapData, Policy, Rule, SetDecl,
};
use crate::transaction::{Op, SetKind, Transaction};
use crate::types::{DataType, Family};

/// What the encoder needs of a set to write its elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub key: Vec<DataType>,
    pub interval: bool,
    pub map: bool,
}

impl Shape {
    pub fn of(d: &SetDecl) -> Self {
        Self {
            key: d.key.clone(),
            interval: d.flags.interval,
            map: d.is_map(),
        }
    }
}

/// An anonymous set or map a rule creates in the same batch, referenced by `id`.
#[derive(Clone, Debug)]
pub struct AnonSet {
    pub name: String,
    pub id: u32,
    pub key: Vec<DataType>,
    pub data: Option<MapData>,
    pub interval: bool,
    pub elements: Vec<Element>,
}

/// The encoded batch: its bytes, and for each message (by sequence number) the operation.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub seqs: std::ops::Range<u32>,
    /// `(first sequence number, op index)`, ascending.
    pub origins: Vec<(u32, usize)>,
}

impl Encoded {
    /// The operation the message `seq` was written for (`None` for the batch's own
    /// messages: an error on its end is the commit's).
    pub fn op_of(&self, seq: u32) -> Option<usize> {
        if seq + 1 >= self.seqs.end {
            return None;
        }
        let i = self.origins.partition_point(|(s, _)| *s <= seq);
        i.checked_sub(1).map(|i| self.origins[i].1)
    }
}

pub fn family_byte(f: Family) -> u8 {
    // NFPROTO_INET 1, NFPROTO_IPV4 2, NFPROTO_IPV6 10.
    match f {
        Family::Inet => 1,
        Family::Ip => 2,
        Family::Ip6 => 10,
    }
}

/// Encodes `tx`; `shapes` gives the sets the transaction does not declare itself.
pub fn transaction(
    tx: &Transaction,
    shapes: &BTreeMap<String, Shape>,
    first_seq: u32,
) -> Result<Encoded, (Refusal, String)> {
    let invalid = |e: String| (Refusal::Invalid, e);
    let family = family_byte(tx.table.family);
    let table = tx.table.name.as_str();
    let mut batch = Batch::new(first_seq);
    let mut origins = Vec::new();
    let mut declared: BTreeMap<&str, Shape> = BTreeMap::new();
    let mut next_set_id = 0u32;
    for (i, op) in tx.ops.iter().enumerate() {
        let mut first = None;
        let mut push = |batch: &mut Batch, ty, flags, a: &Attrs| {
            let seq = batch.push(ty, family, flags, a);
            first.get_or_insert(seq);
        };
        match op {
            Op::AddTable { comment } => {
                let mut a = Attrs::new();
                a.str(1, table);
                if let Some(c) = comment {
                    a.bytes(6, &udata(UDATA_COMMENT, c));
                }
                push(&mut batch, MsgType::NewTable, NLM_F_CREATE, &a);
            }
            Op::DeleteTable => {
                push(&mut batch, MsgType::DelTable, 0, Attrs::new().str(1, table));
            }
            Op::AddChain(d) => {
                push(
                    &mut batch,
                    MsgType::NewChain,
                    NLM_F_CREATE,
                    &chain(table, d),
                );
            }
            Op::FlushChain(c) => {
                push(
                    &mut batch,
                    MsgType::DelRule,
                    0,
                    Attrs::new().str(1, table).str(2, c),
                );
            }
            Op::DeleteChain(c) => {
                push(
                    &mut batch,
                    MsgType::DelChain,
                    0,
                    Attrs::new().str(1, table).str(3, c),
                );
            }
            Op::AddRule { chain, rule: r } => {
                let (anon, attrs) = rule(tx.table.family, table, chain, r, &mut next_set_id)
                    .map_err(|e| invalid(format!("{}: {e}", crate::render::op_line(tx, op))))?;
                for s in &anon {
                    push(
                        &mut batch,
                        MsgType::NewSet,
                        NLM_F_CREATE,
                        &anon_set(table, s),
                    );
                    let shape = Shape {
                        key: s.key.clone(),
                        interval: s.interval,
                        map: s.data.is_some(),
                    };
                    for a in element_lists(table, (&s.name, Some(s.id)), &shape, &s.elements, false)
                        .map_err(invalid)?
                    {
                        push(&mut batch, MsgType::NewSetElem, NLM_F_CREATE, &a);
                    }
                }
                push(
                    &mut batch,
                    MsgType::NewRule,
                    NLM_F_CREATE | NLM_F_APPEND,
                    &attrs,
                );
            }
            Op::DeleteRule { chain, handle } => {
                let mut a = Attrs::new();
                a.str(1, table).str(2, chain).u64(3, *handle);
                push(&mut batch, MsgType::DelRule, 0, &a);
            }
            Op::AddSet(d) => {
                declared.insert(&d.name, Shape::of(d));
                // The kernel wants every new set to carry a batch-unique id.
                next_set_id += 1;
                push(
                    &mut batch,
                    MsgType::NewSet,
                    NLM_F_CREATE,
                    &named_set(table, d, next_set_id),
                );
            }
            Op::FlushSet { name, kind } => {
                // nft names the kind it flushes, and refuses a set flushed as a map.
                let shape = declared.get(name.as_str()).or_else(|| shapes.get(name));
                if shape.is_some_and(|s| s.map != (*kind == SetKind::Map)) {
                    return Err((
                        Refusal::NotFound,
                        format!(
                            "{}: no such {}",
                            crate::render::op_line(tx, op),
                            if *kind == SetKind::Map { "map" } else { "set" }
                        ),
                    ));
                }
                push(
                    &mut batch,
                    MsgType::DelSetElem,
                    0,
                    Attrs::new().str(1, table).str(2, name),
                );
            }
            Op::DeleteSet(s) => {
                push(
                    &mut batch,
                    MsgType::DelSet,
                    0,
                    Attrs::new().str(1, table).str(2, s),
                );
            }
            Op::AddElements { set, .. } | Op::DeleteElements { set, .. }
                if !declared.contains_key(set.as_str()) && !shapes.contains_key(set) =>
            {
                return Err((
                    Refusal::NotFound,
                    format!(
                        "{}: set {set} is neither in the table nor declared before",
                        crate::render::op_line(tx, op)
                    ),
                ));
            }
            Op::AddElements { set, elements } => {
                let shape = declared
                    .get(set.as_str())
                    .or_else(|| shapes.get(set))
                    .expect("checked above");
                for a in
                    element_lists(table, (set, None), shape, elements, false).map_err(invalid)?
                {
                    push(&mut batch, MsgType::NewSetElem, NLM_F_CREATE, &a);
                }
            }
            Op::DeleteElements { set, keys } => {
                let shape = declared
                    .get(set.as_str())
                    .or_else(|| shapes.get(set))
                    .expect("checked above");
                let elements: Vec<Element> = keys.iter().map(|k| Element::key(k.clone())).collect();
                for a in
                    element_lists(table, (set, None), shape, &elements, true).map_err(invalid)?
                {
                    push(&mut batch, MsgType::DelSetElem, 0, &a);
                }
            }
        }
        if let Some(seq) = first {
            origins.push((seq, i));
        }
    }
    let (bytes, seqs) = batch.finish();
    Ok(Encoded {
        bytes,
        seqs,
        origins,
    })
}

/// libnftnl's user data: one TLV holding a NUL-terminated string.
pub fn udata(ty: u8, s: &str) -> Vec<u8> {
    let mut v = vec![ty, (s.len() + 1) as u8];
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn chain(table: &str, d: &ChainDecl) -> Attrs {
    let mut a = Attrs::new();
    a.str(1, table).str(3, &d.name);
    if let Some(BaseChain {
        ty,
        hook,
        priority,
        policy,
    }) = d.base
    {
        let hook = match hook {
            Hook::Prerouting => 0,
            Hook::Input => 1,
            Hook::Forward => 2,
            Hook::Output => 3,
            Hook::Postrouting => 4,
        };
        a.nest(4, |a| {
            a.u32(1, hook).u32(2, priority as u32);
        });
        // NF_DROP 0, NF_ACCEPT 1.
        a.u32(5, u32::from(policy == Policy::Accept));
        a.str(
            7,
            match ty {
                ChainType::Filter => "filter",
                ChainType::Nat => "nat",
                ChainType::Route => "route",
            },
        );
    }
    if let Some(c) = &d.comment {
        a.bytes(12, &udata(UDATA_COMMENT, c));
    }
    a
}

fn rule(
    family: Family,
    table: &str,
    chain: &str,
    r: &Rule,
    next_set_id: &mut u32,
) -> Result<(Vec<AnonSet>, Attrs), String> {
    let mut lin = Linearizer::new(family, next_set_id);
    for e in &r.exprs {
        lin.expr(e)?;
    }
    let (exprs, anon) = lin.finish();
    let mut a = Attrs::new();
    a.str(1, table).str(2, chain);
    a.nest(4, |a| a.raw(&exprs));
    if let Some(c) = &r.comment {
        a.bytes(7, &udata(UDATA_COMMENT, c));
    }
    Ok((anon, a))
}

/// nft's type id of a key: one id, or 6 bits per field of a concatenation.
fn type_id(types: &[DataType]) -> u32 {
    let id = |t: &DataType| TYPE_IDS.iter().find(|(_, x)| x == t).map_or(0, |(n, _)| *n);
    match types {
        [t] => id(t),
        ts => ts.iter().fold(0, |acc, t| (acc << TYPE_BITS) | id(t)),
    }
}

fn key_len(types: &[DataType]) -> usize {
    match types {
        [t] => field_len(*t),
        ts => ts.iter().map(|t| field_len(*t).div_ceil(4) * 4).sum(),
    }
}

/// libnftnl's set user data: the byte order of keys and data (nft prints elements by
/// it: a mark in host order), and the comment.
fn set_udata(key: &[DataType], data: Option<MapData>, comment: Option<&str>) -> Vec<u8> {
    // NFTNL_UDATA_SET_KEYBYTEORDER 0, _DATABYTEORDER 1; BYTEORDER_HOST_ENDIAN 1,
    // BYTEORDER_BIG_ENDIAN 2, 0 for a concatenation.
    let order = |t: &DataType| -> u32 {
        match t {
            DataType::Mark
            | DataType::Integer
            | DataType::CtState
            | DataType::CtStatus
            | DataType::IfName
            | DataType::FibAddrType => 1,
            _ => 2,
        }
    };
    let mut u = Vec::new();
    let mut put = |ty: u8, v: u32| {
        u.extend_from_slice(&[ty, 4]);
        u.extend_from_slice(&v.to_ne_bytes());
    };
    put(0, if let [t] = key { order(t) } else { 0 });
    if let Some(MapData::Type(t)) = data {
        put(1, order(&t));
    }
    if let Some(c) = comment {
        u.extend_from_slice(&udata(UDATA_SET_COMMENT, c));
    }
    u
}

/// The attributes a set and an anonymous set share.
fn set_common(
    a: &mut Attrs,
    table: &str,
    name: &str,
    key: &[DataType],
    data: Option<MapData>,
    flags: u32,
) {
    a.str(1, table).str(2, name).u32(3, flags);
    a.u32(4, type_id(key)).u32(5, key_len(key) as u32);
    match data {
        Some(MapData::Verdict) => {
            a.u32(6, DATA_VERDICT);
        }
        Some(MapData::Type(t)) => {
            a.u32(6, type_id(&[t])).u32(7, field_len(t) as u32);
        }
        None => {}
    }
}

/// NFT_SET_* flags.
fn set_flags(interval: bool, concat: bool, map: bool) -> u32 {
    let mut f = 0;
    if interval {
        f |= 0x4;
        if concat {
            f |= 0x80;
        }
    }
    if map {
        f |= 0x8;
    }
    f
}

/// `NFTA_SET_DESC`: the size (anonymous sets) and the field lengths of a concatenation of
/// intervals (the kernel takes them only with NFT_SET_CONCAT).
fn desc(a: &mut Attrs, key: &[DataType], interval: bool, size: Option<u32>) {
    let concat = interval && key.len() > 1;
    if !concat && size.is_none() {
        return;
    }
    a.nest(9, |a| {
        if let Some(n) = size {
            a.u32(1, n);
        }
        if concat {
            a.nest(2, |a| {
                for t in key {
                    a.nest(1, |a| {
                        a.u32(1, field_len(*t) as u32);
                    });
                }
            });
        }
    });
}

fn named_set(table: &str, d: &SetDecl, id: u32) -> Attrs {
    let mut a = Attrs::new();
    let mut flags = set_flags(d.flags.interval, d.key.len() > 1, d.is_map());
    if d.flags.timeout {
        flags |= 0x10;
    }
    if d.flags.dynamic {
        flags |= 0x20;
    }
    set_common(&mut a, table, &d.name, &d.key, d.data, flags);
    a.u32(10, id);
    desc(&mut a, &d.key, d.flags.interval, None);
    if let Some(t) = d.timeout {
        a.u64(11, u64::from(t) * 1000);
    }
    a.bytes(13, &set_udata(&d.key, d.data, d.comment.as_deref()));
    a
}

fn anon_set(table: &str, s: &AnonSet) -> Attrs {
    let mut a = Attrs::new();
    // NFT_SET_ANONYMOUS | NFT_SET_CONSTANT.
    let flags = 0x1 | 0x2 | set_flags(s.interval, s.key.len() > 1, s.data.is_some());
    set_common(&mut a, table, &s.name, &s.key, s.data, flags);
    a.u32(10, s.id);
    let size = if s.interval && s.key.len() == 1 {
        2 * s.elements.len()
    } else {
        s.elements.len()
    };
    desc(&mut a, &s.key, s.interval, Some(size as u32));
    a.bytes(13, &set_udata(&s.key, s.data, None));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenated_key_types_take_six_bits_a_field() {
        assert_eq!(
            type_id(&[
                DataType::Ipv4Addr,
                DataType::InetProto,
                DataType::InetService
            ]),
            (7 << 12) | (12 << 6) | 13
        );
        assert_eq!(
            key_len(&[
                DataType::Ipv4Addr,
                DataType::InetProto,
                DataType::InetService
            ]),
            12
        );
        assert_eq!(key_len(&[DataType::InetService]), 2);
    }
}
