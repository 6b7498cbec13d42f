//! The fake's undo log: each change an operation makes in place, with what it replaced, so
//! a refused transaction rolls back in reverse order instead of the fake copying its state
//! before every transaction.

use std::collections::BTreeMap;

use super::{FakeChain, FakeTable};
use crate::object::{ChainDecl, ElemExtra, Rule, Set, TableId};
use crate::types::Key;

/// One change, within the transaction's table.
#[derive(Debug)]
pub enum Undo {
    TableAdded,
    TableDeleted(Box<FakeTable>),
    TableComment(Option<String>),
    NextHandle(u64),
    ChainAdded(String),
    ChainDecl(ChainDecl),
    ChainRules(String, Vec<(u64, Rule)>),
    ChainDeleted(Box<FakeChain>),
    RuleAdded(String),
    RuleDeleted(String, usize, (u64, Rule)),
    SetAdded(String),
    SetElements(String, BTreeMap<Key, ElemExtra>),
    SetDeleted(Box<Set>),
    ElementAdded(String, Key),
    ElementDeleted(String, Key, ElemExtra),
}

/// Undoes `log` (the changes made to table `id`), last change first.
pub fn roll_back(tables: &mut BTreeMap<TableId, FakeTable>, id: &TableId, log: Vec<Undo>) {
    for u in log.into_iter().rev() {
        match u {
            Undo::TableAdded => {
                tables.remove(id);
            }
            Undo::TableDeleted(t) => {
                tables.insert(id.clone(), *t);
            }
            u => {
                let Some(t) = tables.get_mut(id) else {
                    continue;
                };
                undo_in_table(t, u);
            }
        }
    }
}

fn undo_in_table(t: &mut FakeTable, u: Undo) {
    match u {
        Undo::TableAdded | Undo::TableDeleted(_) => {}
        Undo::TableComment(c) => t.comment = c,
        Undo::NextHandle(h) => t.next_handle = h,
        Undo::ChainAdded(name) => {
            t.chains.remove(&name);
        }
        Undo::ChainDecl(decl) => {
            if let Some(c) = t.chains.get_mut(&decl.name) {
                c.decl = decl;
            }
        }
        Undo::ChainRules(name, rules) => {
            if let Some(c) = t.chains.get_mut(&name) {
                c.rules = rules;
            }
        }
        Undo::ChainDeleted(c) => {
            t.chains.insert(c.decl.name.clone(), *c);
        }
        Undo::RuleAdded(chain) => {
            if let Some(c) = t.chains.get_mut(&chain) {
                c.rules.pop();
            }
        }
        Undo::RuleDeleted(chain, at, rule) => {
            if let Some(c) = t.chains.get_mut(&chain) {
                c.rules.insert(at, rule);
            }
        }
        Undo::SetAdded(name) => {
            t.sets.remove(&name);
        }
        Undo::SetElements(name, elements) => {
            if let Some(s) = t.sets.get_mut(&name) {
                s.elements = elements;
            }
        }
        Undo::SetDeleted(s) => {
            t.sets.insert(s.decl.name.clone(), *s);
        }
        Undo::ElementAdded(set, key) => {
            if let Some(s) = t.sets.get_mut(&set) {
                s.elements.remove(&key);
            }
        }
        Undo::ElementDeleted(set, key, extra) => {
            if let Some(s) = t.sets.get_mut(&set) {
                s.elements.insert(key, extra);
            }
        }
    }
}
