//! The fake's checks: what the kernel (or nft before it) refuses in a rule, a set
//! declaration or an element.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::error::Refusal;
use crate::expr::{Expr, Match, Rhs, Selector, Transport, Verdict, VmapRef};
use crate::object::{
    ChainDecl, ChainType, ElemData, ElemExtra, Element, Hook, MapData, Set, SetDecl,
};
use crate::types::{Atom, DataType, Key, Value};

type Checked = Result<(), (Refusal, String)>;

/// The parts of a table a new rule is checked against (looked up, never copied: the fake
/// holds tens of thousands of chains in the proxy's benches).
pub struct TableView<'a> {
    pub chain: &'a dyn Fn(&str) -> Option<&'a ChainDecl>,
    pub sets: &'a BTreeMap<String, Set>,
}

fn invalid(detail: String) -> (Refusal, String) {
    (Refusal::Invalid, detail)
}

/// A rule added to `chain`.
pub fn rule(view: &TableView<'_>, chain: &ChainDecl, rule: &crate::object::Rule) -> Checked {
    let mut transport_matched = false;
    for e in &rule.exprs {
        match e {
            Expr::Match(m) => {
                check_match(view, m)?;
                transport_matched |= m.left.iter().any(|s| {
                    matches!(s, Selector::Port(t, _) if *t != Transport::Th)
                        || matches!(s, Selector::Meta(crate::expr::MetaKey::L4proto))
                });
            }
            Expr::Vmap { key, map } => match map {
                VmapRef::Named(name) => {
                    let s = named_set(view, name)?;
                    if s.decl.data != Some(MapData::Verdict) {
                        return Err(invalid(format!("{name} is not a verdict map")));
                    }
                    same_types(key, &s.decl.key, name)?;
                }
                VmapRef::Anon(elems) => {
                    for (k, v) in elems {
                        key_fits(key, k)?;
                        target(view, v)?;
                    }
                }
            },
            Expr::SetUpdate { set, key } => {
                let s = named_set(view, set)?;
                if !s.decl.flags.dynamic {
                    return Err(invalid(format!("set {set} is not dynamic")));
                }
                same_types(key, &s.decl.key, set)?;
            }
            Expr::Dnat(to) | Expr::Snat(to) => {
                if to.port.is_some() && !transport_matched {
                    return Err(invalid(
                        "a NAT port needs a transport protocol match before it".to_owned(),
                    ));
                }
                nat_allowed(chain, matches!(e, Expr::Dnat(_)))?;
            }
            Expr::Masquerade { .. } => nat_allowed(chain, false)?,
            Expr::Verdict(v) => target(view, v)?,
            Expr::Counter
            | Expr::Limit { .. }
            | Expr::Log { .. }
            | Expr::MarkSet(_)
            | Expr::Reject(_) => {}
        }
    }
    Ok(())
}

fn named_set<'a>(view: &'a TableView<'_>, name: &str) -> Result<&'a Set, (Refusal, String)> {
    view.sets
        .get(name)
        .ok_or_else(|| (Refusal::NotFound, format!("no set {name}")))
}

/// A jump or goto must land on an existing regular chain.
fn target(view: &TableView<'_>, v: &Verdict) -> Checked {
    let Some(name) = v.target() else {
        return Ok(());
    };
    match (view.chain)(name) {
        None => Err((Refusal::NotFound, format!("no chain {name}"))),
        Some(c) if c.base.is_some() => Err(invalid(format!("{name} is a base chain"))),
        Some(_) => Ok(()),
    }
}

/// NAT in a base chain needs a nat chain at the right hook (dnat before routing, snat after).
/// Regular chains are not checked: the kernel checks them when a base chain reaches them.
fn nat_allowed(chain: &ChainDecl, dnat: bool) -> Checked {
    let Some(base) = chain.base else {
        return Ok(());
    };
    let hook_ok = if dnat {
        matches!(base.hook, Hook::Prerouting | Hook::Output)
    } else {
        matches!(base.hook, Hook::Postrouting | Hook::Input)
    };
    if base.ty == ChainType::Nat && hook_ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "NAT not supported in chain {} ({} at {})",
            chain.name, base.ty, base.hook
        )))
    }
}

fn check_match(view: &TableView<'_>, m: &Match) -> Checked {
    if m.mask.is_some() && m.left.iter().any(|s| s.data_type() != DataType::Mark) {
        return Err(invalid("a mask applies to marks only".to_owned()));
    }
    match &m.right {
        Rhs::Key(k) => key_fits(&m.left, k),
        Rhs::AnonSet(keys) => keys.iter().try_for_each(|k| key_fits(&m.left, k)),
        Rhs::Set(name) => {
            let s = named_set(view, name)?;
            if s.decl.is_map() {
                return Err(invalid(format!("{name} is a map, not a set")));
            }
            same_types(&m.left, &s.decl.key, name)
        }
    }
}

fn same_types(left: &[Selector], types: &[DataType], name: &str) -> Checked {
    let have: Vec<DataType> = left.iter().map(|s| s.data_type()).collect();
    if have == types {
        Ok(())
    } else {
        Err(invalid(format!(
            "datatype mismatch: {name} expects {}, the expression has {}",
            names(types),
            names(&have)
        )))
    }
}

fn names(types: &[DataType]) -> String {
    types
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(" . ")
}

fn key_fits(left: &[Selector], k: &Key) -> Checked {
    let types: Vec<DataType> = left.iter().map(|s| s.data_type()).collect();
    atoms_fit(&types, k)
}

fn atoms_fit(types: &[DataType], k: &Key) -> Checked {
    if k.types() != types {
        return Err(invalid(format!(
            "datatype mismatch: expected {}, {k} has {}",
            names(types),
            names(&k.types())
        )));
    }
    for a in &k.0 {
        match a {
            Atom::Prefix(IpAddr::V4(_), len) if *len > 32 => {}
            Atom::Prefix(IpAddr::V6(_), len) if *len > 128 => {}
            Atom::Range(lo, hi) if lo > hi => {}
            _ => continue,
        }
        return Err(invalid(format!("{a} is not a valid interval")));
    }
    Ok(())
}

pub fn set_decl(d: &SetDecl) -> Checked {
    if d.key.is_empty() {
        return Err(invalid(format!("set {} has no key type", d.name)));
    }
    Ok(())
}

/// An element added to the set `decl`, in a table where `has_chain` says which chains exist.
pub fn element(decl: &SetDecl, has_chain: &dyn Fn(&str) -> bool, e: &Element) -> Checked {
    atoms_fit(&decl.key, &e.key)?;
    if !decl.flags.interval && e.key.0.iter().any(Atom::is_interval) {
        return Err(invalid(format!(
            "set {} needs the interval flag for {}",
            decl.name, e.key
        )));
    }
    match (decl.data, &e.extra.data) {
        (None, None) => Ok(()),
        (Some(MapData::Verdict), Some(ElemData::Verdict(v))) => match v.target() {
            Some(c) if !has_chain(c) => Err((Refusal::NotFound, format!("no chain {c}"))),
            _ => Ok(()),
        },
        (Some(MapData::Type(t)), Some(ElemData::Value(v))) if v.data_type() == t => Ok(()),
        _ => Err(invalid(format!(
            "element {} does not fit {} {}",
            e.key,
            if decl.is_map() { "map" } else { "set" },
            decl.name
        ))),
    }
}

/// In an interval set a new single-field element may not overlap one already there.
pub fn no_overlap(existing: &BTreeMap<Key, ElemExtra>, key: &Key) -> Checked {
    let [atom] = key.0.as_slice() else {
        return Ok(());
    };
    let Some((lo, hi)) = span(atom) else {
        return Ok(());
    };
    for k in existing.keys() {
        if let [other] = k.0.as_slice()
            && let Some((olo, ohi)) = span(other)
            && lo <= ohi
            && olo <= hi
        {
            return Err((
                Refusal::Exists,
                format!("interval {key} overlaps with an existing one ({k})"),
            ));
        }
    }
    Ok(())
}

/// The numeric span an atom covers, for the types intervals are used with.
fn span(a: &Atom) -> Option<(u128, u128)> {
    let num = |v: &Value| -> Option<u128> {
        match v {
            Value::Ipv4(a) => Some(u32::from(*a).into()),
            Value::Ipv6(a) => Some(u128::from(*a)),
            Value::Port(p) => Some((*p).into()),
            Value::Mark(m) => Some((*m).into()),
            _ => None,
        }
    };
    match a {
        Atom::Value(v) => num(v).map(|n| (n, n)),
        Atom::Range(lo, hi) => Some((num(lo)?, num(hi)?)),
        Atom::Prefix(addr, len) => {
            let (n, bits) = match addr {
                IpAddr::V4(a) => (u128::from(u32::from(*a)), 32u32),
                IpAddr::V6(a) => (u128::from(*a), 128u32),
            };
            let host = bits - u32::from(*len);
            let mask = if host >= 128 {
                u128::MAX
            } else {
                (1u128 << host) - 1
            };
            Some((n & !mask, n | mask))
        }
    }
}
