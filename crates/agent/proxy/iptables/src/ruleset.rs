//! A rendered iptables ruleset as chains of rule lines, and what to feed
//! `iptables-restore --noflush` to move the kernel from one ruleset to the next.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

/// The chains of one table, in the order they were first declared (kube-proxy's order: the
/// top-level chains, then each service's), each with its rules (the text after `-A CHAIN `).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableRules {
    order: Vec<String>,
    rules: HashMap<String, Vec<String>>,
}

/// The two tables the iptables mode writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub filter: TableRules,
    pub nat: TableRules,
}

/// What the kernel holds of one table after a successful restore, as far as the next
/// partial sync needs: each of our chains with a hash of its rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    chains: HashMap<String, u64>,
}

/// One restore's worth of a table: chains to (re)write and chains to delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableChange {
    pub written: usize,
    pub deleted: usize,
}

// === impl TableRules ===

impl TableRules {
    /// Declares `chain` (empty) unless it already is.
    pub fn chain(&mut self, chain: &str) {
        if !self.rules.contains_key(chain) {
            self.order.push(chain.to_owned());
            self.rules.insert(chain.to_owned(), Vec::new());
        }
    }

    /// Appends a rule to `chain`, declaring it if needed.
    pub fn rule(&mut self, chain: &str, rule: String) {
        self.chain(chain);
        if let Some(rules) = self.rules.get_mut(chain) {
            rules.push(rule);
        }
    }

    pub fn chains(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.order
            .iter()
            .map(|c| (c.as_str(), self.rules[c].as_slice()))
    }

    pub fn rules_of(&self, chain: &str) -> Option<&[String]> {
        self.rules.get(chain).map(Vec::as_slice)
    }

    pub fn chain_count(&self) -> usize {
        self.order.len()
    }

    pub fn rule_count(&self) -> usize {
        self.rules.values().map(Vec::len).sum()
    }

    /// This table's section of an iptables-restore input:
    /// - every chain when `previous` is `None` (a full sync), else only those whose rules
    ///   differ from what `previous` says the kernel holds;
    /// - `-X` for each of `stale` (chains of ours that exist but are no longer wanted), after
    ///   a `:CHAIN` line that flushes it, since iptables refuses to delete a non-empty chain.
    ///
    /// Chain lines come first and the deletions last, so a chain is only deleted after every
    /// rewritten chain has dropped its jumps to it.
    pub fn restore_section(
        &self,
        table: &str,
        previous: Option<&Applied>,
        stale: &BTreeSet<String>,
        out: &mut String,
    ) -> TableChange {
        let changed: Vec<&str> = self
            .order
            .iter()
            .filter(|c| {
                previous.is_none_or(|p| p.chains.get(*c) != Some(&hash_rules(&self.rules[*c])))
            })
            .map(String::as_str)
            .collect();
        let _ = writeln!(out, "*{table}");
        for chain in changed
            .iter()
            .copied()
            .chain(stale.iter().map(String::as_str))
        {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for chain in &changed {
            for rule in &self.rules[*chain] {
                let _ = writeln!(out, "-A {chain} {rule}");
            }
        }
        for chain in stale {
            let _ = writeln!(out, "-X {chain}");
        }
        out.push_str("COMMIT\n");
        TableChange {
            written: changed.len(),
            deleted: stale.len(),
        }
    }

    /// What the kernel holds of this table once a restore of it succeeded.
    pub fn applied(&self) -> Applied {
        Applied {
            chains: self
                .rules
                .iter()
                .map(|(c, r)| (c.clone(), hash_rules(r)))
                .collect(),
        }
    }
}

// === impl Ruleset ===

impl Ruleset {
    /// The whole ruleset as `iptables-save` would print it, chains in declaration order: the
    /// golden files' format.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (name, table) in [("filter", &self.filter), ("nat", &self.nat)] {
            table.restore_section(name, None, &BTreeSet::new(), &mut out);
        }
        out
    }
}

// === impl Applied ===

impl Applied {
    /// Our chains the kernel holds that `desired` does not want.
    pub fn stale(&self, desired: &TableRules) -> BTreeSet<String> {
        self.chains
            .keys()
            .filter(|c| !desired.rules.contains_key(*c))
            .cloned()
            .collect()
    }
}

fn hash_rules(rules: &[String]) -> u64 {
    let mut h = DefaultHasher::new();
    rules.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(chains: &[(&str, &[&str])]) -> TableRules {
        let mut t = TableRules::default();
        for (c, rules) in chains {
            t.chain(c);
            for r in *rules {
                t.rule(c, (*r).to_owned());
            }
        }
        t
    }

    #[test]
    fn a_full_section_declares_every_chain_before_any_rule() {
        let t = table(&[
            ("KUBE-SERVICES", &["-j KUBE-SVC-A"]),
            ("KUBE-SVC-A", &["-j RETURN"]),
        ]);
        let mut out = String::new();
        let change = t.restore_section("nat", None, &BTreeSet::new(), &mut out);
        assert_eq!(
            out,
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n\
             -A KUBE-SERVICES -j KUBE-SVC-A\n-A KUBE-SVC-A -j RETURN\nCOMMIT\n"
        );
        assert_eq!(
            change,
            TableChange {
                written: 2,
                deleted: 0
            }
        );
    }

    #[test]
    fn a_partial_section_writes_only_changed_chains_and_deletes_stale_ones_last() {
        let before = table(&[
            ("KUBE-SERVICES", &["-j KUBE-SVC-A"]),
            ("KUBE-SVC-A", &["-j KUBE-SEP-1"]),
            ("KUBE-SEP-1", &["-j DNAT"]),
        ]);
        let after = table(&[
            ("KUBE-SERVICES", &["-j KUBE-SVC-A"]),
            ("KUBE-SVC-A", &["-j KUBE-SEP-2"]),
            ("KUBE-SEP-2", &["-j DNAT"]),
        ]);
        let applied = before.applied();
        let stale = applied.stale(&after);
        let mut out = String::new();
        let change = after.restore_section("nat", Some(&applied), &stale, &mut out);
        assert_eq!(
            out,
            "*nat\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-2 - [0:0]\n:KUBE-SEP-1 - [0:0]\n\
             -A KUBE-SVC-A -j KUBE-SEP-2\n-A KUBE-SEP-2 -j DNAT\n-X KUBE-SEP-1\nCOMMIT\n"
        );
        assert_eq!(
            change,
            TableChange {
                written: 2,
                deleted: 1
            }
        );
    }

    #[test]
    fn an_unchanged_table_is_an_empty_commit() {
        let t = table(&[("KUBE-SERVICES", &["-j KUBE-SVC-A"])]);
        let mut out = String::new();
        t.restore_section("nat", Some(&t.applied()), &BTreeSet::new(), &mut out);
        assert_eq!(out, "*nat\nCOMMIT\n");
    }
}
