//! Set elements as nf_tables attributes: keys as bytes per field (32-bit aligned in
//! concatenations), single-field intervals as a start and an end flagged INTERVAL_END one
//! past the last value, concatenated intervals as key and inclusive key end; lists split so
//! each fits its 16-bit attribute length. And values as the kernel holds them, which the
//! rule linearizer shares.

use std::net::IpAddr;

use super::encode::Shape;
use super::linearize::verdict;
use super::wire::Attrs;
use crate::object::{ElemData, ElemExtra, Element};
use crate::types::{Atom, DataType, Key, Value};

/// Elements per message are bounded by the 16-bit length of their list attribute.
const ELEMENTS_BYTES: usize = 48 * 1024;

/// `NFTA_SET_ELEM_LIST_*` messages for `elements` of the set `(name, id)`, split so each
/// list fits its attribute.
pub fn element_lists(
    table: &str,
    (name, id): (&str, Option<u32>),
    shape: &Shape,
    elements: &[Element],
    deleting: bool,
) -> Result<Vec<Attrs>, String> {
    let mut out = Vec::new();
    let mut list = Attrs::new();
    let flush = |list: &mut Attrs, out: &mut Vec<Attrs>| {
        if list.len() == 0 {
            return;
        }
        let mut a = Attrs::new();
        a.str(1, table).str(2, name);
        if let Some(id) = id {
            a.u32(4, id);
        }
        a.nest(3, |a| a.raw(&std::mem::take(list)));
        out.push(a);
    };
    for e in elements {
        element(&mut list, shape, &e.key, &e.extra, deleting)
            .map_err(|err| format!("element {} of set {name}: {err}", e.key))?;
        if list.len() > ELEMENTS_BYTES {
            flush(&mut list, &mut out);
        }
    }
    flush(&mut list, &mut out);
    Ok(out)
}

fn element(
    list: &mut Attrs,
    shape: &Shape,
    key: &Key,
    extra: &ElemExtra,
    deleting: bool,
) -> Result<(), String> {
    if key.types() != shape.key {
        return Err(format!(
            "key of type {} in a set of type {}",
            names(&key.types()),
            names(&shape.key)
        ));
    }
    let payload = |a: &mut Attrs| {
        if deleting {
            return;
        }
        match &extra.data {
            Some(ElemData::Verdict(v)) => {
                a.nest(2, |a| verdict(a, v));
            }
            Some(ElemData::Value(v)) => {
                a.nest(2, |a| {
                    a.bytes(1, &value_bytes(v));
                });
            }
            None => {}
        }
        if let Some(c) = &extra.comment {
            a.bytes(6, &super::encode::udata(super::decode::UDATA_COMMENT, c));
        }
    };
    let concat = shape.key.len() > 1;
    if !shape.interval {
        let bytes = key_bytes(key, concat)?;
        list.nest(1, |a| {
            a.nest(1, |a| {
                a.bytes(1, &bytes);
            });
            payload(a);
        });
        return Ok(());
    }
    let (lo, hi): (Vec<Vec<u8>>, Vec<Vec<u8>>) = key.0.iter().map(span).unzip();
    if concat {
        let (lo, hi) = (padded(&lo), padded(&hi));
        list.nest(1, |a| {
            a.nest(1, |a| {
                a.bytes(1, &lo);
            });
            a.nest(10, |a| {
                a.bytes(1, &hi);
            });
            payload(a);
        });
        return Ok(());
    }
    list.nest(1, |a| {
        a.nest(1, |a| {
            a.bytes(1, &lo[0]);
        });
        payload(a);
    });
    // The end is exclusive: one past the last value, absent when that overflows.
    if let Some(end) = successor(&hi[0]) {
        list.nest(1, |a| {
            a.nest(1, |a| {
                a.bytes(1, &end);
            });
            // NFT_SET_ELEM_INTERVAL_END.
            a.u32(3, 1);
        });
    }
    Ok(())
}

fn names(ts: &[DataType]) -> String {
    ts.iter().map(|t| t.name()).collect::<Vec<_>>().join(" . ")
}

/// The first and last value an atom covers, as bytes.
fn span(a: &Atom) -> (Vec<u8>, Vec<u8>) {
    match a {
        Atom::Value(v) => (value_bytes(v), value_bytes(v)),
        Atom::Range(lo, hi) => (value_bytes(lo), value_bytes(hi)),
        Atom::Prefix(addr, len) => {
            let b = addr_bytes(*addr);
            let (mut lo, mut hi) = (b.clone(), b);
            for i in 0..lo.len() {
                let bits = usize::from(*len).saturating_sub(i * 8).min(8);
                let mask = if bits == 0 { 0 } else { 0xffu8 << (8 - bits) };
                lo[i] &= mask;
                hi[i] |= !mask;
            }
            (lo, hi)
        }
    }
}

fn successor(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = b.to_vec();
    for byte in out.iter_mut().rev() {
        let (v, carry) = byte.overflowing_add(1);
        *byte = v;
        if !carry {
            return Some(out);
        }
    }
    None
}

/// Fields padded to 32 bits, one after another.
fn padded(fields: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(f);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    out
}

/// A key of plain values as bytes (`concat`: each field padded to 32 bits).
pub fn key_bytes(key: &Key, concat: bool) -> Result<Vec<u8>, String> {
    let fields = key
        .0
        .iter()
        .map(|a| match a {
            Atom::Value(v) => Ok(value_bytes(v)),
            other => Err(format!("{other} where a plain value is needed")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if concat {
        padded(&fields)
    } else {
        fields.concat()
    })
}

pub fn addr_bytes(a: IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// A value as the kernel holds it: addresses and ports in network order, marks, flags and
/// numbers in host order, interface names NUL-padded to IFNAMSIZ.
pub fn value_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Ipv4(a) => a.octets().to_vec(),
        Value::Ipv6(a) => a.octets().to_vec(),
        Value::Proto(p) | Value::IcmpType(p) | Value::NfProto(p) => vec![*p],
        Value::Port(p) => p.to_be_bytes().to_vec(),
        Value::Mark(n) | Value::CtState(n) | Value::CtStatus(n) | Value::Integer(n) => {
            n.to_ne_bytes().to_vec()
        }
        Value::AddrType(t) => {
            let n: u32 = match t {
                crate::types::AddrType::Unicast => 1,
                crate::types::AddrType::Local => 2,
                crate::types::AddrType::Broadcast => 3,
                crate::types::AddrType::Multicast => 5,
            };
            n.to_ne_bytes().to_vec()
        }
        Value::IfName(n) => {
            let mut b = n.as_bytes().to_vec();
            b.resize(16, 0);
            b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_ends_are_one_past_the_last_value() {
        let (lo, hi) = span(&Atom::Prefix("172.18.0.0".parse().unwrap(), 16));
        assert_eq!(lo, [172, 18, 0, 0]);
        assert_eq!(successor(&hi).unwrap(), [172, 19, 0, 0]);
        assert_eq!(successor(&[0xff, 0xff]), None);
    }

    #[test]
    fn concatenated_keys_pad_each_field() {
        let k = Key::from([
            Value::Ipv4("10.96.0.1".parse().unwrap()),
            Value::Proto(6),
            Value::Port(443),
        ]);
        assert_eq!(
            key_bytes(&k, true).unwrap(),
            [10, 96, 0, 1, 6, 0, 0, 0, 0x01, 0xbb, 0, 0]
        );
    }
}
