//! Desired table vs. what an executor holds → the smallest transaction between them, in an
//! order the kernel accepts: declare new sets and chains; drop elements that go or change;
//! rewrite changed chains (append-only changes just append); add elements; delete sets,
//! then chains, once nothing points at them. Nothing changed: an empty transaction.

use std::collections::BTreeSet;

use crate::dump::{ChainDump, TableDump};
use crate::object::{Chain, Table};
use crate::render::RuleText;
use crate::transaction::Transaction;
use crate::types::Key;

/// What changes `current` (`None`: no such table yet) into `desired`.
pub fn diff(current: Option<&TableDump>, desired: &Table) -> Transaction {
    let mut tx = Transaction::new(desired.id.clone());
    let Some(cur) = current else {
        tx.add_table();
        fill(&mut tx, desired);
        return tx;
    };
    let family = desired.id.family;

    // Sets whose declaration changed are recreated: deleted (after the rules using them are
    // flushed) and declared again, elements and all.
    let recreated: BTreeSet<&str> = desired
        .sets
        .iter()
        .filter(|(name, s)| {
            cur.sets
                .get(*name)
                .is_some_and(|c| !c.decl.same_as(&s.decl))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let gone_sets: Vec<&str> = cur
        .sets
        .keys()
        .filter(|n| !desired.sets.contains_key(*n))
        .map(String::as_str)
        .collect();
    let gone_chains: Vec<&str> = cur
        .chains
        .keys()
        .filter(|n| !desired.chains.contains_key(*n))
        .map(String::as_str)
        .collect();
    // Chains whose type, hook or priority changed are recreated (the kernel cannot change
    // them in place); a policy alone is changed by declaring the chain again.
    let rebased: BTreeSet<&str> = desired
        .chains
        .iter()
        .filter(|(name, c)| {
            cur.chains.get(*name).is_some_and(|cc| {
                let key =
                    |b: &Option<crate::object::BaseChain>| b.map(|b| (b.ty, b.hook, b.priority));
                key(&cc.base) != key(&c.decl.base)
            })
        })
        .map(|(name, _)| name.as_str())
        .collect();

    // Chains whose rules must be rewritten (flushed), or only appended to.
    let mut rewrite: Vec<&Chain> = Vec::new();
    let mut append: Vec<(&Chain, usize)> = Vec::new();
    for (name, c) in &desired.chains {
        let want: Vec<String> = c
            .rules
            .iter()
            .map(|r| RuleText(family, r).to_string())
            .collect();
        match cur.chains.get(name) {
            Some(cc) if !rebased.contains(name.as_str()) => {
                let uses_recreated = recreated.iter().any(|s| mentions(cc, s));
                let have: Vec<&str> = cc.rules.iter().map(|r| r.text.as_str()).collect();
                if uses_recreated {
                    rewrite.push(c);
                } else if have.len() <= want.len()
                    && have.iter().zip(&want).all(|(h, w)| *h == w.as_str())
                {
                    if have.len() < want.len() {
                        append.push((c, have.len()));
                    }
                } else {
                    rewrite.push(c);
                }
            }
            _ => rewrite.push(c),
        }
    }

    for name in &recreated {
        for (cname, cc) in &cur.chains {
            if mentions(cc, name) && !rewrite.iter().any(|c| &c.decl.name == cname) {
                tx.flush_chain(cname);
            }
        }
    }
    for c in &rewrite {
        if cur.chains.contains_key(&c.decl.name) && !rebased.contains(c.decl.name.as_str()) {
            tx.flush_chain(&c.decl.name);
        }
    }
    for name in &gone_chains {
        tx.flush_chain(name);
    }
    for name in &rebased {
        tx.delete_chain(name);
    }
    for name in &recreated {
        tx.delete_set(name);
    }

    for (name, s) in &desired.sets {
        if !cur.sets.contains_key(name) || recreated.contains(name.as_str()) {
            tx.add_set(s.decl.clone());
        }
    }
    for (name, c) in &desired.chains {
        let policy_changed = cur
            .chains
            .get(name)
            .is_some_and(|cc| cc.base != c.decl.base);
        if !cur.chains.contains_key(name) || rebased.contains(name.as_str()) || policy_changed {
            tx.add_chain(c.decl.clone());
        }
    }

    // Elements that go or change, before anything they point at goes.
    let mut added = Vec::new();
    for (name, s) in &desired.sets {
        let Some(cs) = cur
            .sets
            .get(name)
            .filter(|_| !recreated.contains(name.as_str()))
        else {
            added.push((name, s.elements.iter().map(element).collect::<Vec<_>>()));
            continue;
        };
        let stale: Vec<Key> = cs
            .elements
            .iter()
            .filter(|(k, x)| s.elements.get(*k) != Some(*x))
            .map(|(k, _)| k.clone())
            .collect();
        tx.delete_elements(name, stale);
        let new: Vec<_> = s
            .elements
            .iter()
            .filter(|(k, x)| cs.elements.get(*k) != Some(*x))
            .map(element)
            .collect();
        added.push((name, new));
    }

    for c in &rewrite {
        for r in &c.rules {
            tx.add_rule(&c.decl.name, r.clone());
        }
    }
    for (c, from) in &append {
        for r in &c.rules[*from..] {
            tx.add_rule(&c.decl.name, r.clone());
        }
    }
    for (name, elements) in added {
        tx.add_elements(name, elements);
    }
    for name in gone_sets {
        tx.delete_set(name);
    }
    for name in gone_chains {
        tx.delete_chain(name);
    }
    tx
}

/// Declares and fills the whole of `t` into a fresh table.
fn fill(tx: &mut Transaction, t: &Table) {
    if t.comment.is_some() {
        tx.ops.pop();
        tx.push(crate::transaction::Op::AddTable {
            comment: t.comment.clone(),
        });
    }
    for s in t.sets.values() {
        tx.add_set(s.decl.clone());
    }
    for c in t.chains.values() {
        tx.add_chain(c.decl.clone());
    }
    for c in t.chains.values() {
        for r in &c.rules {
            tx.add_rule(&c.decl.name, r.clone());
        }
    }
    for (name, s) in &t.sets {
        tx.add_elements(name, s.elements.iter().map(element).collect());
    }
}

fn element((k, x): (&Key, &crate::object::ElemExtra)) -> crate::object::Element {
    crate::object::Element {
        key: k.clone(),
        extra: x.clone(),
    }
}

/// Whether a rule of `c` names the set `set` (`@set` as a whole word).
fn mentions(c: &ChainDump, set: &str) -> bool {
    let needle = format!("@{set}");
    c.rules.iter().any(|r| {
        r.text
            .split(|ch: char| ch.is_whitespace() || ch == ',')
            .any(|w| w == needle)
    })
}
