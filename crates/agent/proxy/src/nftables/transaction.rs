//! Desired state → a podnet-nft transaction: a full rewrite, or the difference for the
//! service ports that changed. Chains are deleted only after the map elements and rules
//! pointing at them are gone (flushed or deleted earlier in the same transaction).

use std::collections::{BTreeMap, BTreeSet};

use podnet_nft::Transaction;
use podnet_nft::object::{Chain, TableId};
use podnet_nft::transaction::SetKind;
use podnet_nft::types::{Family, Key};

use super::render::TABLE;
use super::ruleset::{Desired, PortObjects, SetElement};
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
/// endpoint across a restart or resync).
pub fn full(d: &Desired, existing: &Existing) -> Transaction {
    let mut tx = Transaction::new(id(d.family));
    tx.push(podnet_nft::transaction::Op::AddTable {
        comment: Some("rules for kube-proxy".to_owned()),
    });
    for c in &d.skeleton.chains {
        tx.add_chain(c.clone()).flush_chain(&c.name);
    }
    for s in &d.skeleton.sets {
        let kind = if s.is_map() {
            SetKind::Map
        } else {
            SetKind::Set
        };
        tx.add_set(s.clone()).flush_set(&s.name, kind);
    }
    let mut desired_chains: BTreeSet<&str> =
        d.skeleton.chains.iter().map(|c| c.name.as_str()).collect();
    let mut desired_sets: BTreeSet<&str> =
        d.skeleton.sets.iter().map(|s| s.name.as_str()).collect();
    for objs in d.ports.values() {
        for c in &objs.chains {
            add_chain(&mut tx, c);
            tx.flush_chain(&c.decl.name);
            desired_chains.insert(&c.decl.name);
        }
        for s in &objs.affinity_sets {
            tx.add_set(s.clone());
            desired_sets.insert(&s.name);
        }
    }
    let stale_chains: Vec<&String> = existing
        .chains
        .iter()
        .filter(|c| !desired_chains.contains(c.as_str()))
        .collect();
    for c in &stale_chains {
        tx.flush_chain(c);
    }
    for (chain, rule) in &d.skeleton.rules {
        tx.add_rule(chain, rule.clone());
    }
    for e in &d.skeleton.elements {
        add_element(&mut tx, e);
    }
    for objs in d.ports.values() {
        for c in &objs.chains {
            rules(&mut tx, c);
        }
        for e in &objs.elements {
            add_element(&mut tx, e);
        }
    }
    for c in stale_chains {
        tx.delete_chain(c);
    }
    for s in existing
        .sets
        .iter()
        .filter(|s| !desired_sets.contains(s.as_str()))
    {
        tx.delete_set(s);
    }
    tx
}

/// Changes only what differs between `old` and `new` for the ports in `keys`.
pub fn partial(
    family: Family,
    old: &BTreeMap<PortKey, PortObjects>,
    new: &BTreeMap<PortKey, PortObjects>,
    keys: &BTreeSet<&PortKey>,
) -> Transaction {
    let mut tx = Transaction::new(id(family));
    let empty = PortObjects::default();
    let mut add_later: Vec<&SetElement> = Vec::new();
    let mut filled: Vec<&Chain> = Vec::new();
    let mut gone_chains: Vec<&str> = Vec::new();
    let mut gone_sets: Vec<&str> = Vec::new();
    // A ClusterIP shared by two ports that both go is deleted once.
    let mut deleted: BTreeSet<(&str, &Key)> = BTreeSet::new();
    for key in keys {
        let o = old.get(*key).unwrap_or(&empty);
        let n = new.get(*key).unwrap_or(&empty);
        // Elements: drop what is not wanted as it is, first of all — but a set element
        // (a ClusterIP) other ports of the Service still list stays.
        for e in &o.elements {
            if !n.elements.contains(e)
                && (e.element.extra.data.is_some() || !shared(e, key, old, new, keys))
                && deleted.insert((e.set, &e.element.key))
            {
                tx.delete_elements(e.set, vec![e.element.key.clone()]);
            }
        }
        for e in &n.elements {
            if !o.elements.contains(e) {
                add_later.push(e);
            }
        }
        for c in &n.chains {
            match o.chains.iter().find(|oc| oc.decl.name == c.decl.name) {
                None => {
                    add_chain(&mut tx, c);
                    filled.push(c);
                }
                Some(oc) if oc != c => {
                    add_chain(&mut tx, c);
                    tx.flush_chain(&c.decl.name);
                    filled.push(c);
                }
                Some(_) => {}
            }
        }
        for s in &n.affinity_sets {
            if !o.affinity_sets.contains(s) {
                tx.add_set(s.clone());
            }
        }
        for oc in &o.chains {
            if !n.chains.iter().any(|c| c.decl.name == oc.decl.name) {
                gone_chains.push(&oc.decl.name);
            }
        }
        for os in &o.affinity_sets {
            if !n.affinity_sets.iter().any(|s| s.name == os.name) {
                gone_sets.push(&os.name);
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
    old: &BTreeMap<PortKey, PortObjects>,
    new: &BTreeMap<PortKey, PortObjects>,
    keys: &BTreeSet<&PortKey>,
) -> bool {
    let same_service = |k: &PortKey| k != key && k.name.service == key.name.service;
    let kept = old
        .iter()
        .filter(|(k, _)| same_service(k) && !keys.contains(k))
        .any(|(_, o)| o.elements.contains(e));
    kept || new
        .iter()
        .filter(|(k, _)| same_service(k))
        .any(|(_, o)| o.elements.contains(e))
}
