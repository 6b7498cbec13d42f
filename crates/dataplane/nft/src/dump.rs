//! A table as read back from an executor: declarations, rules as canonical text with their
//! handles, elements typed. What diffs start from and what the fake-vs-kernel battery compares.

use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter};

use crate::object::{BaseChain, ElemExtra, SetDecl, Table, TableId};
use crate::render::RuleText;
use crate::types::Key;

/// A rule as the executor holds it: its handle (to delete it) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleDump {
    pub handle: u64,
    pub text: String,
}

/// A chain read back. Chain comments are not compared (not read back yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainDump {
    pub base: Option<BaseChain>,
    pub rules: Vec<RuleDump>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDump {
    pub decl: SetDecl,
    pub elements: BTreeMap<Key, ElemExtra>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDump {
    pub id: TableId,
    pub chains: BTreeMap<String, ChainDump>,
    pub sets: BTreeMap<String, SetDump>,
}

// === impl TableDump ===

impl TableDump {
    /// What an executor holds once `table` is applied, without reading it back: a caller that
    /// keeps this after each successful apply can diff its next desired table against it
    /// instead of dumping the kernel. Rule handles are 0 (diffs never need them).
    pub fn of(table: &Table) -> Self {
        let family = table.id.family;
        Self {
            id: table.id.clone(),
            chains: table
                .chains
                .iter()
                .map(|(name, c)| {
                    let rules = c
                        .rules
                        .iter()
                        .map(|r| RuleDump {
                            handle: 0,
                            text: RuleText(family, r).to_string(),
                        })
                        .collect();
                    let chain = ChainDump {
                        base: c.decl.base,
                        rules,
                    };
                    (name.clone(), chain)
                })
                .collect(),
            sets: table
                .sets
                .iter()
                .map(|(name, s)| {
                    let set = SetDump {
                        decl: s.decl.clone(),
                        elements: s.elements.clone(),
                    };
                    (name.clone(), set)
                })
                .collect(),
        }
    }

    /// The same state with every rule handle zeroed: two executors number rules differently
    /// (the kernel also spends handles on anonymous sets), the order is what must agree.
    pub fn without_handles(&self) -> Self {
        let mut d = self.clone();
        for c in d.chains.values_mut() {
            for r in &mut c.rules {
                r.handle = 0;
            }
        }
        d
    }

    /// The handles of `chain`'s rules, in order.
    pub fn handles(&self, chain: &str) -> Vec<u64> {
        self.chains
            .get(chain)
            .map(|c| c.rules.iter().map(|r| r.handle).collect())
            .unwrap_or_default()
    }
}

/// Readable, sorted: what a failing comparison prints.
impl Display for TableDump {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "table {} {}", self.id.family, self.id.name)?;
        for (name, s) in &self.sets {
            writeln!(f, "  set {name} {:?}", s.decl)?;
            for (k, extra) in &s.elements {
                write!(f, "    {k}")?;
                if let Some(c) = &extra.comment {
                    write!(f, " comment \"{c}\"")?;
                }
                if let Some(d) = &extra.data {
                    write!(f, " : {d}")?;
                }
                writeln!(f)?;
            }
        }
        for (name, c) in &self.chains {
            match &c.base {
                Some(b) => writeln!(f, "  chain {name} {{ {b} }}")?,
                None => writeln!(f, "  chain {name}")?,
            }
            for r in &c.rules {
                writeln!(f, "    [{}] {}", r.handle, r.text)?;
            }
        }
        Ok(())
    }
}
