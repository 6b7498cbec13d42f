//! A validating in-memory executor: applies a transaction the way the kernel does — in
//! order, all or nothing, refusing a jump to a missing chain, a map element pointing at a
//! missing chain, deleting what is still used, an element of the wrong type or shape, a
//! redefinition — and holds typed state for dumps and the packet tracer.
//!
//! All or nothing without copying the state: each operation applies in place and records
//! how to undo itself ([`undo`]); a refused operation rolls the transaction back. A partial
//! sync at 30k Services costs what it changes.

mod check;
mod undo;

use undo::Undo;

use std::collections::BTreeMap;

use crate::Executor;
use crate::dump::{ChainDump, RuleDump, SetDump, TableDump};
use crate::error::{Error, Refusal, Result};
use crate::object::{Chain, ChainDecl, Rule, Set, Table, TableId};
use crate::render::RuleText;
use crate::transaction::{Op, SetKind, Transaction};

/// A chain as the fake holds it: rules with the handles the fake gave them.
#[derive(Clone, Debug)]
struct FakeChain {
    decl: ChainDecl,
    rules: Vec<(u64, Rule)>,
}

#[derive(Clone, Debug)]
struct FakeTable {
    comment: Option<String>,
    chains: BTreeMap<String, FakeChain>,
    sets: BTreeMap<String, Set>,
    /// Handles count up per table, as the kernel's do.
    next_handle: u64,
}

/// The fake kernel: every table of one namespace.
#[derive(Clone, Debug, Default)]
pub struct Fake {
    tables: BTreeMap<TableId, FakeTable>,
}

/// Why one operation is refused.
type Refused = (Refusal, String);

// === impl Fake ===

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    /// The typed table, as the tracer walks it.
    pub fn table(&self, id: &TableId) -> Option<Table> {
        let t = self.tables.get(id)?;
        Some(Table {
            id: id.clone(),
            comment: t.comment.clone(),
            chains: t
                .chains
                .iter()
                .map(|(name, c)| {
                    let chain = Chain {
                        decl: c.decl.clone(),
                        rules: c.rules.iter().map(|(_, r)| r.clone()).collect(),
                    };
                    (name.clone(), chain)
                })
                .collect(),
            sets: t.sets.clone(),
        })
    }
}

impl Executor for Fake {
    fn execute(&mut self, tx: &Transaction) -> Result<()> {
        let mut log = Vec::new();
        for op in &tx.ops {
            if let Err((refusal, detail)) = apply_op(&mut self.tables, &tx.table, op, &mut log) {
                undo::roll_back(&mut self.tables, &tx.table, log);
                return Err(Error::Refused {
                    target: "fake".to_owned(),
                    table: format!("{} {}", tx.table.family, tx.table.name),
                    refusal,
                    detail: format!("{detail} (in: {})", crate::render::op_line(tx, op)),
                });
            }
        }
        Ok(())
    }

    fn dump(&self, id: &TableId) -> Result<Option<TableDump>> {
        Ok(self.tables.get(id).map(|t| TableDump {
            id: id.clone(),
            chains: t
                .chains
                .iter()
                .map(|(name, c)| {
                    let rules = c
                        .rules
                        .iter()
                        .map(|(handle, r)| RuleDump {
                            handle: *handle,
                            text: RuleText(id.family, r).to_string(),
                        })
                        .collect();
                    (
                        name.clone(),
                        ChainDump {
                            base: c.decl.base,
                            rules,
                        },
                    )
                })
                .collect(),
            sets: t
                .sets
                .iter()
                .map(|(name, s)| {
                    let dump = SetDump {
                        decl: s.decl.clone(),
                        elements: s.elements.clone(),
                    };
                    (name.clone(), dump)
                })
                .collect(),
        }))
    }
}

/// Declaring a chain that exists: the kernel keeps it, updates a base chain's policy, and
/// refuses another type (EEXIST), another hook or priority, or making a regular chain a base
/// chain (EOPNOTSUPP, as a policy is always given).
fn redeclare(c: &mut FakeChain, decl: &ChainDecl) -> std::result::Result<(), Refused> {
    let (have, want) = match (&mut c.decl.base, &decl.base) {
        (_, None) => return Ok(()),
        (None, Some(_)) => {
            return Err((
                Refusal::Invalid,
                format!("chain {} is a regular chain", decl.name),
            ));
        }
        (Some(have), Some(want)) => (have, want),
    };
    if have.ty != want.ty {
        return Err((
            Refusal::Exists,
            format!("chain {} exists with type {}", decl.name, have.ty),
        ));
    }
    if have.hook != want.hook || have.priority != want.priority {
        return Err((
            Refusal::Invalid,
            format!("chain {}: hook and priority cannot change", decl.name),
        ));
    }
    have.policy = want.policy;
    Ok(())
}

fn not_found(what: &str, name: &str) -> Refused {
    (Refusal::NotFound, format!("no {what} {name}"))
}

/// Applies `op` in place, pushing onto `log` how to undo each change it made.
fn apply_op(
    tables: &mut BTreeMap<TableId, FakeTable>,
    id: &TableId,
    op: &Op,
    log: &mut Vec<Undo>,
) -> std::result::Result<(), Refused> {
    if let Op::AddTable { comment } = op {
        if !tables.contains_key(id) {
            log.push(Undo::TableAdded);
        }
        let t = tables.entry(id.clone()).or_insert_with(|| FakeTable {
            comment: None,
            chains: BTreeMap::new(),
            sets: BTreeMap::new(),
            next_handle: 1,
        });
        if comment.is_some() {
            log.push(Undo::TableComment(t.comment.clone()));
            t.comment.clone_from(comment);
        }
        return Ok(());
    }
    let Some(t) = tables.get_mut(id) else {
        return Err(not_found("table", &id.name));
    };
    let handle_before = t.next_handle;
    let result = apply_in_table(t, op, log);
    if t.next_handle != handle_before {
        log.push(Undo::NextHandle(handle_before));
    }
    if result.is_ok() && *op == Op::DeleteTable {
        let t = tables.remove(id).expect("found above");
        log.push(Undo::TableDeleted(Box::new(t)));
    }
    result
}

fn apply_in_table(
    t: &mut FakeTable,
    op: &Op,
    log: &mut Vec<Undo>,
) -> std::result::Result<(), Refused> {
    match op {
        Op::AddTable { .. } | Op::DeleteTable => {}
        Op::AddChain(decl) => match t.chains.get_mut(&decl.name) {
            Some(c) => {
                let before = c.decl.clone();
                redeclare(c, decl)?;
                log.push(Undo::ChainDecl(before));
            }
            None => {
                t.next_handle += 1;
                t.chains.insert(
                    decl.name.clone(),
                    FakeChain {
                        decl: decl.clone(),
                        rules: Vec::new(),
                    },
                );
                log.push(Undo::ChainAdded(decl.name.clone()));
            }
        },
        Op::FlushChain(name) => {
            let c = t
                .chains
                .get_mut(name)
                .ok_or_else(|| not_found("chain", name))?;
            let rules = std::mem::take(&mut c.rules);
            log.push(Undo::ChainRules(name.clone(), rules));
        }
        Op::DeleteChain(name) => {
            if !t.chains.contains_key(name) {
                return Err(not_found("chain", name));
            }
            if let Some(user) = t.chain_user(name) {
                return Err((Refusal::Busy, format!("chain {name} is used by {user}")));
            }
            let c = t.chains.remove(name).expect("checked above");
            log.push(Undo::ChainDeleted(Box::new(c)));
        }
        Op::AddRule { chain, rule } => {
            let chains = &t.chains;
            let lookup = |n: &str| chains.get(n).map(|c| &c.decl);
            let view = check::TableView {
                chain: &lookup,
                sets: &t.sets,
            };
            let c = chains.get(chain).ok_or_else(|| not_found("chain", chain))?;
            check::rule(&view, &c.decl, rule)?;
            let handle = t.next_handle;
            t.next_handle += 1;
            let c = t.chains.get_mut(chain).expect("checked above");
            c.rules.push((handle, rule.clone()));
            log.push(Undo::RuleAdded(chain.clone()));
        }
        Op::DeleteRule { chain, handle } => {
            let c = t
                .chains
                .get_mut(chain)
                .ok_or_else(|| not_found("chain", chain))?;
            let at = c
                .rules
                .iter()
                .position(|(h, _)| h == handle)
                .ok_or_else(|| not_found("rule handle", &handle.to_string()))?;
            let removed = c.rules.remove(at);
            log.push(Undo::RuleDeleted(chain.clone(), at, removed));
        }
        Op::AddSet(decl) => match t.sets.get(&decl.name) {
            Some(s) if !s.decl.same_as(decl) => {
                return Err((
                    Refusal::Exists,
                    format!("set {} exists with another definition", decl.name),
                ));
            }
            Some(_) => {}
            None => {
                check::set_decl(decl)?;
                t.next_handle += 1;
                t.sets.insert(
                    decl.name.clone(),
                    Set {
                        decl: decl.clone(),
                        elements: BTreeMap::new(),
                    },
                );
                log.push(Undo::SetAdded(decl.name.clone()));
            }
        },
        Op::FlushSet { name, kind } => {
            let s = t.sets.get_mut(name).ok_or_else(|| not_found("set", name))?;
            if s.decl.is_map() != (*kind == SetKind::Map) {
                return Err(not_found(if s.decl.is_map() { "set" } else { "map" }, name));
            }
            let elements = std::mem::take(&mut s.elements);
            log.push(Undo::SetElements(name.clone(), elements));
        }
        Op::DeleteSet(name) => {
            if !t.sets.contains_key(name) {
                return Err(not_found("set", name));
            }
            if let Some(user) = t.set_user(name) {
                return Err((Refusal::Busy, format!("set {name} is used by {user}")));
            }
            let s = t.sets.remove(name).expect("checked above");
            log.push(Undo::SetDeleted(Box::new(s)));
        }
        Op::AddElements { set, elements } => {
            let chains = &t.chains;
            let has_chain = |n: &str| chains.contains_key(n);
            let s = t.sets.get(set).ok_or_else(|| not_found("set", set))?;
            for e in elements {
                check::element(&s.decl, &has_chain, e)?;
            }
            let s = t.sets.get_mut(set).expect("checked above");
            for e in elements {
                match s.elements.get(&e.key) {
                    Some(old) if old.data != e.extra.data => {
                        return Err((
                            Refusal::Exists,
                            format!("element {} exists with other data", e.key),
                        ));
                    }
                    Some(_) => {}
                    None => {
                        if s.decl.flags.interval {
                            check::no_overlap(&s.elements, &e.key)?;
                        }
                        s.elements.insert(e.key.clone(), e.extra.clone());
                        log.push(Undo::ElementAdded(set.clone(), e.key.clone()));
                    }
                }
            }
        }
        Op::DeleteElements { set, keys } => {
            let s = t.sets.get_mut(set).ok_or_else(|| not_found("set", set))?;
            for k in keys {
                let extra = s
                    .elements
                    .remove(k)
                    .ok_or_else(|| not_found("element", &k.to_string()))?;
                log.push(Undo::ElementDeleted(set.clone(), k.clone(), extra));
            }
        }
    }
    Ok(())
}

// === impl FakeTable ===

impl FakeTable {
    /// A rule (of another chain) or map element that sends packets to `chain`.
    fn chain_user(&self, chain: &str) -> Option<String> {
        let from_rule = self
            .chains
            .iter()
            .filter(|(name, _)| name.as_str() != chain)
            .find(|(_, c)| {
                c.rules
                    .iter()
                    .any(|(_, r)| r.exprs.iter().any(|e| e.chain_refs().contains(&chain)))
            })
            .map(|(name, _)| format!("a rule of chain {name}"));
        from_rule.or_else(|| {
            self.sets
                .values()
                .find(|s| {
                    s.elements.values().any(|x| {
                        matches!(&x.data, Some(crate::object::ElemData::Verdict(v)) if v.target() == Some(chain))
                    })
                })
                .map(|s| format!("an element of map {}", s.decl.name))
        })
    }

    /// A rule that looks up or updates `set`.
    fn set_user(&self, set: &str) -> Option<String> {
        self.chains
            .iter()
            .find(|(_, c)| {
                c.rules
                    .iter()
                    .any(|(_, r)| r.exprs.iter().any(|e| e.set_refs() == Some(set)))
            })
            .map(|(name, _)| format!("a rule of chain {name}"))
    }
}
