//! Desired state → a podnet-nft transaction: a full rewrite, or the difference for the
//! service ports that changed. Chains are deleted only after the map elements and rules
//! pointing at them are gone (flushed or deleted earlier in the same transaction).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use podnet_nft::Transaction;
use podnet_nft::object::{Chain, Element, TableId};
use podnet_nft::transaction::SetKind;
use podnet_nft::types::{Family, Key};

use super::render::TABLE;
use super::ruleset::{
    AppliedPort, Desired, PortObjects, SetElement, chain_fingerprint, fingerprint,
};
use crate::plan::PortKey;

/// What the kernel's table holds now, by name (read back before a full sync).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Existing {
    pub chains: BTreeSet<String>,
    pub sets: BTreeSet<String>,
}

fn id(family: Family) -> TableId {
    TableId::new(family, TABLE)
}

fn add_chain(tx: &mut Transaction, c: &Chain) {
    tx.add_chain(c.decl.clone());
}

fn rules(tx: &mut Transaction, c: &Chain) {
    for r in &c.rules {
        tx.add_rule(&c.decl.name, r.clone());
    }
}

fn add_element(tx: &mut Transaction, e: &SetElement) {
    tx.add_elements(e.set, vec![e.element.clone()]);
}

/// Rewrites the whole table: the skeleton and every port's objects are (re)declared and
/// refilled, maps refilled, and whatever `existing` holds that is no longer desired is
/// flushed and then deleted. Affinity sets that stay are not flushed (clients keep their
/// endpoint across a restart or resync). `d` is consumed: its rules move into the
/// transaction instead of being copied (at 30k Services they are ~300k). Elements go in
/// one operation per set (the encoder packs them into few messages).
pub fn full(d: Desired, existing: &Existing) -> Transaction {
    let mut tx = Transaction::new(id(d.family));
    tx.push(podnet_nft::transaction::Op::AddTable {
        comment: Some("rules for kube-proxy".to_owned()),
    });
    let (stale_chains, stale_sets) = stale(&d, existing);
    let Desired {
        skeleton, ports, ..
    } = d;
    for c in &skeleton.chains {
        tx.add_chain(c.clone()).flush_chain(&c.name);
    }
    for s in &skeleton.sets {
        let kind = if s.is_map() {
            SetKind::Map
        } else {
            SetKind::Set
        };
        tx.add_set(s.clone()).flush_set(&s.name, kind);
    }
    for objs in ports.values() {
        for c in &objs.chains {
            add_chain(&mut tx, c);
            tx.flush_chain(&c.decl.name);
        }
        for s in &objs.affinity_sets {
            tx.add_set(s.clone());
        }
    }
    for c in &stale_chains {
        tx.flush_chain(c);
    }
    for (chain, rule) in skeleton.rules {
        tx.add_rule(&chain, rule);
    }
    // Per set, in the order the sets first appear: skeleton first, then the ports'.
    let mut elements: Vec<(&'static str, Vec<Element>)> = Vec::new();
    let mut add = |e: SetElement| match elements.iter_mut().find(|(s, _)| *s == e.set) {
        Some((_, v)) => v.push(e.element),
        None => elements.push((e.set, vec![e.element])),
    };
    skeleton.elements.into_iter().for_each(&mut add);
    for objs in ports.into_values() {
        for c in objs.chains {
            for r in c.rules {
                tx.add_rule(&c.decl.name, r);
            }
        }
        objs.elements.into_iter().for_each(&mut add);
    }
    for (set, v) in elements {
        tx.add_elements(set, v);
    }
    for c in &stale_chains {
        tx.delete_chain(c);
    }
    for s in &stale_sets {
        tx.delete_set(s);
    }
    tx
}

/// The chains and sets `existing` holds that `d` does not want.
fn stale(d: &Desired, existing: &Existing) -> (Vec<String>, Vec<String>) {
    let mut chains: HashSet<&str> = d.skeleton.chains.iter().map(|c| c.name.as_str()).collect();
    let mut sets: HashSet<&str> = d.skeleton.sets.iter().map(|s| s.name.as_str()).collect();
    for objs in d.ports.values() {
        chains.extend(objs.chains.iter().map(|c| c.decl.name.as_str()));
        sets.extend(objs.affinity_sets.iter().map(|s| s.name.as_str()));
    }
    (
        existing
            .chains
            .iter()
            .filter(|c| !chains.contains(c.as_str()))
            .cloned()
            .collect(),
        existing
            .sets
            .iter()
            .filter(|s| !sets.contains(s.as_str()))
            .cloned()
            .collect(),
    )
}

/// Changes only what differs between `old` (as applied) and `new` for the ports in `keys`.
pub fn partial(
    family: Family,
    old: &BTreeMap<PortKey, AppliedPort>,
    new: &BTreeMap<PortKey, PortObjects>,
    keys: &BTreeSet<&PortKey>,
) -> Transaction {
    let mut tx = Transaction::new(id(family));
    let mut add_later: Vec<&SetElement> = Vec::new();
    let mut filled: Vec<&Chain> = Vec::new();
    let mut gone_chains: Vec<&str> = Vec::new();
    let mut gone_sets: Vec<&str> = Vec::new();
    // A ClusterIP shared by two ports that both go is deleted once.
    let mut deleted: BTreeSet<(&str, &Key)> = BTreeSet::new();
    let (no_old, no_new) = (AppliedPort::default(), PortObjects::default());
    for key in keys {
        let o = old.get(*key).unwrap_or(&no_old);
        let n = new.get(*key).unwrap_or(&no_new);
        let (o_elements, o_chains, o_sets) = (&o.elements, &o.chains, &o.affinity_sets);
        let (n_elements, n_chains, n_sets) = (&n.elements, &n.chains, &n.affinity_sets);
        // Elements: drop what is not wanted as it is, first of all — but a set element
        // (a ClusterIP) other ports of the Service still list stays.
        for e in o_elements {
            if !n_elements.contains(e)
                && (e.element.extra.data.is_some() || !shared(e, key, old, new, keys))
                && deleted.insert((e.set, &e.element.key))
            {
                tx.delete_elements(e.set, vec![e.element.key.clone()]);
            }
        }
        for e in n_elements {
            if !o_elements.contains(e) {
                add_later.push(e);
            }
        }
        for c in n_chains {
            match o_chains.iter().find(|(name, _)| *name == c.decl.name) {
                None => {
                    add_chain(&mut tx, c);
                    filled.push(c);
                }
                Some((_, fp)) if *fp != chain_fingerprint(c) => {
                    add_chain(&mut tx, c);
                    tx.flush_chain(&c.decl.name);
                    filled.push(c);
                }
                Some(_) => {}
            }
        }
        for s in n_sets {
            if !o_sets.contains(&(s.name.clone(), fingerprint(s))) {
                tx.add_set(s.clone());
            }
        }
        for (name, _) in o_chains {
            if !n_chains.iter().any(|c| c.decl.name == *name) {
                gone_chains.push(name);
            }
        }
        for (name, _) in o_sets {
            if !n_sets.iter().any(|s| s.name == *name) {
                gone_sets.push(name);
            }
        }
    }
    for c in &gone_chains {
        tx.flush_chain(c);
    }
    for c in filled {
        rules(&mut tx, c);
    }
    for e in add_later {
        add_element(&mut tx, e);
    }
    for c in gone_chains {
        tx.delete_chain(c);
    }
    for s in gone_sets {
        tx.delete_set(s);
    }
    tx
}

/// Whether another port of `key`'s Service lists `e` after this transaction.
fn shared(
    e: &SetElement,
    key: &PortKey,
    old: &BTreeMap<PortKey, AppliedPort>,
    new: &BTreeMap<PortKey, PortObjects>,
    keys: &BTreeSet<&PortKey>,
) -> bool {
    let kept = siblings(old, key)
        .filter(|(k, _)| !keys.contains(k))
        .any(|(_, o)| o.elements.contains(e));
    kept || siblings(new, key).any(|(_, o)| o.elements.contains(e))
}

/// The other ports of `key`'s Service in `map`: its neighbours in key order (keys sort by
/// Service first), found without walking the whole map.
fn siblings<'a, V>(
    map: &'a BTreeMap<PortKey, V>,
    key: &'a PortKey,
) -> impl Iterator<Item = (&'a PortKey, &'a V)> {
    let same = move |(k, _): &(&PortKey, &V)| k.name.service == key.name.service;
    map.range(..key)
        .rev()
        .take_while(same)
        .chain(map.range(key..).take_while(same))
        .filter(move |(k, _)| *k != key)
}
