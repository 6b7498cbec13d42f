//! nftables objects: tables, chains, rules, sets and maps with their elements. A [`Table`]
//! holds a whole desired (or faked) table; the transaction's operations carry the pieces.

use std::collections::BTreeMap;

use crate::expr::{Expr, Verdict};
use crate::types::{DataType, Family, Key, Value};

/// A table, by family and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableId {
    pub family: Family,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChainType {
    Filter,
    Nat,
    Route,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    Prerouting,
    Input,
    Forward,
    Output,
    Postrouting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    Accept,
    Drop,
}

/// What makes a chain a base chain: the kernel calls it at `hook`, in `priority` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BaseChain {
    pub ty: ChainType,
    pub hook: Hook,
    pub priority: i32,
    pub policy: Policy,
}

/// A chain's declaration (its rules travel separately in a transaction).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainDecl {
    pub name: String,
    pub base: Option<BaseChain>,
    pub comment: Option<String>,
}

/// A rule: expressions in order, and a comment that maps it back to intent.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub exprs: Vec<Expr>,
    pub comment: Option<String>,
}

/// What a map's elements map to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MapData {
    Verdict,
    Type(DataType),
}

/// Set flags podnet uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetFlags {
    /// Elements may be prefixes and ranges.
    pub interval: bool,
    /// Elements may expire.
    pub timeout: bool,
    /// Rules may add elements (`update @set`).
    pub dynamic: bool,
}

/// A set's (or map's) declaration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SetDecl {
    pub name: String,
    /// One type, or several for a concatenation.
    pub key: Vec<DataType>,
    /// `Some` for a map.
    pub data: Option<MapData>,
    pub flags: SetFlags,
    /// Default element timeout, seconds.
    pub timeout: Option<u32>,
    pub comment: Option<String>,
}

/// What a map element maps to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ElemData {
    Verdict(Verdict),
    Value(Value),
}

/// An element's payload beside its key.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ElemExtra {
    pub data: Option<ElemData>,
    pub comment: Option<String>,
}

/// A set or map element.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element {
    pub key: Key,
    pub extra: ElemExtra,
}

/// A chain and its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub decl: ChainDecl,
    pub rules: Vec<Rule>,
}

/// A set or map and its elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set {
    pub decl: SetDecl,
    pub elements: BTreeMap<Key, ElemExtra>,
}

/// A whole table: the unit a desired state is written in and a fake holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub id: TableId,
    pub comment: Option<String>,
    pub chains: BTreeMap<String, Chain>,
    pub sets: BTreeMap<String, Set>,
}

// === impl TableId ===

impl TableId {
    pub fn new(family: Family, name: &str) -> Self {
        Self {
            family,
            name: name.to_owned(),
        }
    }
}

// === impl ChainDecl ===

impl ChainDecl {
    pub fn regular(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            base: None,
            comment: None,
        }
    }

    pub fn base(name: &str, ty: ChainType, hook: Hook, priority: i32, policy: Policy) -> Self {
        Self {
            name: name.to_owned(),
            base: Some(BaseChain {
                ty,
                hook,
                priority,
                policy,
            }),
            comment: None,
        }
    }

    pub fn with_comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_owned());
        self
    }
}

// === impl Rule ===

impl Rule {
    pub fn new(exprs: Vec<Expr>) -> Self {
        Self {
            exprs,
            comment: None,
        }
    }

    pub fn with_comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_owned());
        self
    }
}

// === impl SetDecl ===

impl SetDecl {
    pub fn set(name: &str, key: Vec<DataType>) -> Self {
        Self {
            name: name.to_owned(),
            key,
            data: None,
            flags: SetFlags::default(),
            timeout: None,
            comment: None,
        }
    }

    /// A verdict map.
    pub fn vmap(name: &str, key: Vec<DataType>) -> Self {
        Self {
            data: Some(MapData::Verdict),
            ..Self::set(name, key)
        }
    }

    pub fn with_comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_owned());
        self
    }

    pub fn with_flags(mut self, flags: SetFlags) -> Self {
        self.flags = flags;
        self
    }

    pub fn is_map(&self) -> bool {
        self.data.is_some()
    }

    /// Whether the kernel takes `other` as the same set (a comment may differ).
    pub fn same_as(&self, other: &SetDecl) -> bool {
        self.key == other.key
            && self.data == other.data
            && self.flags == other.flags
            && self.timeout == other.timeout
    }
}

// === impl Element ===

impl Element {
    pub fn key(key: impl Into<Key>) -> Self {
        Self {
            key: key.into(),
            extra: ElemExtra::default(),
        }
    }

    pub fn verdict(key: impl Into<Key>, verdict: Verdict) -> Self {
        Self {
            key: key.into(),
            extra: ElemExtra {
                data: Some(ElemData::Verdict(verdict)),
                comment: None,
            },
        }
    }

    pub fn with_comment(mut self, comment: &str) -> Self {
        self.extra.comment = Some(comment.to_owned());
        self
    }
}

// === impl Table ===

impl Table {
    pub fn new(family: Family, name: &str) -> Self {
        Self {
            id: TableId::new(family, name),
            comment: None,
            chains: BTreeMap::new(),
            sets: BTreeMap::new(),
        }
    }

    /// Declares a chain (empty); returns it to add rules.
    pub fn chain(&mut self, decl: ChainDecl) -> &mut Chain {
        let name = decl.name.clone();
        self.chains.entry(name).or_insert(Chain {
            decl,
            rules: Vec::new(),
        })
    }

    /// Declares a set or map (empty); returns it to add elements.
    pub fn set(&mut self, decl: SetDecl) -> &mut Set {
        let name = decl.name.clone();
        self.sets.entry(name).or_insert(Set {
            decl,
            elements: BTreeMap::new(),
        })
    }

    pub fn rule_count(&self) -> usize {
        self.chains.values().map(|c| c.rules.len()).sum()
    }

    pub fn element_count(&self) -> usize {
        self.sets.values().map(|s| s.elements.len()).sum()
    }
}

// === impl Chain ===

impl Chain {
    pub fn rule(&mut self, rule: Rule) -> &mut Self {
        self.rules.push(rule);
        self
    }
}

// === impl Set ===

impl Set {
    pub fn element(&mut self, e: Element) -> &mut Self {
        self.elements.insert(e.key, e.extra);
        self
    }
}
