//! A transaction: changes to one table, applied all or nothing, in order (a rule may jump
//! only to a chain added earlier; a chain may be deleted only after what points at it).

use crate::object::{ChainDecl, Element, Rule, SetDecl, TableId};
use crate::types::Key;

/// Sets and maps share a namespace, but nft's `flush` names which one it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetKind {
    Set,
    Map,
}

/// One change, within the transaction's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Creates the table if missing (no error if it exists).
    AddTable {
        comment: Option<String>,
    },
    DeleteTable,
    /// Creates the chain if missing; an existing chain must have the same base definition.
    AddChain(ChainDecl),
    /// Removes every rule of the chain.
    FlushChain(String),
    DeleteChain(String),
    /// Appends a rule.
    AddRule {
        chain: String,
        rule: Rule,
    },
    /// Deletes the rule with this kernel handle.
    DeleteRule {
        chain: String,
        handle: u64,
    },
    /// Creates the set if missing; an existing one must have the same definition.
    AddSet(SetDecl),
    FlushSet {
        name: String,
        kind: SetKind,
    },
    DeleteSet(String),
    /// Adds elements; an existing key with other data is an error, with the same data a no-op.
    AddElements {
        set: String,
        elements: Vec<Element>,
    },
    /// Deletes elements by key; a missing key is an error.
    DeleteElements {
        set: String,
        keys: Vec<Key>,
    },
}

/// Changes to one table, applied atomically by an [`crate::Executor`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub table: TableId,
    pub ops: Vec<Op>,
}

// === impl Transaction ===

impl Transaction {
    pub fn new(table: TableId) -> Self {
        Self {
            table,
            ops: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    pub fn add_table(&mut self) -> &mut Self {
        self.push(Op::AddTable { comment: None })
    }

    pub fn delete_table(&mut self) -> &mut Self {
        self.push(Op::DeleteTable)
    }

    pub fn add_chain(&mut self, decl: ChainDecl) -> &mut Self {
        self.push(Op::AddChain(decl))
    }

    pub fn flush_chain(&mut self, name: &str) -> &mut Self {
        self.push(Op::FlushChain(name.to_owned()))
    }

    pub fn delete_chain(&mut self, name: &str) -> &mut Self {
        self.push(Op::DeleteChain(name.to_owned()))
    }

    pub fn add_rule(&mut self, chain: &str, rule: Rule) -> &mut Self {
        self.push(Op::AddRule {
            chain: chain.to_owned(),
            rule,
        })
    }

    pub fn delete_rule(&mut self, chain: &str, handle: u64) -> &mut Self {
        self.push(Op::DeleteRule {
            chain: chain.to_owned(),
            handle,
        })
    }

    pub fn add_set(&mut self, decl: SetDecl) -> &mut Self {
        self.push(Op::AddSet(decl))
    }

    pub fn flush_set(&mut self, name: &str, kind: SetKind) -> &mut Self {
        self.push(Op::FlushSet {
            name: name.to_owned(),
            kind,
        })
    }

    pub fn delete_set(&mut self, name: &str) -> &mut Self {
        self.push(Op::DeleteSet(name.to_owned()))
    }

    pub fn add_elements(&mut self, set: &str, elements: Vec<Element>) -> &mut Self {
        if !elements.is_empty() {
            self.push(Op::AddElements {
                set: set.to_owned(),
                elements,
            });
        }
        self
    }

    pub fn delete_elements(&mut self, set: &str, keys: Vec<Key>) -> &mut Self {
        if !keys.is_empty() {
            self.push(Op::DeleteElements {
                set: set.to_owned(),
                keys,
            });
        }
        self
    }
}
