//! One family's iptables in one network namespace: whole rulesets through
//! `iptables-restore --noflush`, single rules through `iptables -C/-I/-A/-D`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::exec::Place;
use crate::{Result, Variant};

/// The address family: `iptables` or `ip6tables`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// The tables the service proxy writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Filter,
    Nat,
    Mangle,
}

/// Where [`Iptables::ensure_rule`] puts a missing rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// First in the chain (`-I`): kube-proxy's jumps from the built-in chains go first, so
    /// that nothing earlier can accept a packet before services see it.
    Prepend,
    /// Last in the chain (`-A`).
    Append,
}

/// iptables of one family and backend, in one network namespace (`None`: the caller's own).
#[derive(Clone, Debug)]
pub struct Iptables {
    place: Place,
    family: Family,
    variant: Variant,
}

// === impl Iptables ===

impl Iptables {
    pub fn new(netns: Option<&Path>, family: Family, variant: Variant) -> Self {
        Self {
            place: Place::new(netns),
            family,
            variant,
        }
    }

    pub fn netns(&self) -> Option<&Path> {
        self.place.netns()
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Applies `data` (iptables-save syntax, one `*table … COMMIT` section per table) with
    /// `--noflush`: chains named in a `:CHAIN` line are created or flushed, everything else in
    /// the tables stays as it is. Each `*table` section commits atomically at its `COMMIT`
    /// (measured: a failure in a later section does not undo an earlier one), so a rejected
    /// line leaves its own table untouched and is quoted in the error.
    pub fn restore(&self, data: &str) -> Result<()> {
        let program = self.tool("restore");
        tracing::debug!(
            netns = %self.place.label(),
            program,
            lines = data.lines().count(),
            "iptables restore"
        );
        // -w: the legacy backend serialises writers on the xtables lock; nf_tables ignores it.
        let ran = self.place.run(
            &program,
            &["-w", "--noflush", "--counters"],
            data.as_bytes(),
        )?;
        if !ran.ok {
            return Err(self.place.rejected(&program, data, ran.stderr));
        }
        Ok(())
    }

    /// `table` as `iptables-save -t TABLE` prints it.
    pub fn save(&self, table: Table) -> Result<String> {
        let program = self.tool("save");
        self.place
            .run_ok(&program, &["-t", table.name()], b"", "save")
    }

    /// Every table that exists, as `iptables-save` prints them. Unlike [`Iptables::save`],
    /// this never makes the kernel instantiate a table (the legacy backend creates a table
    /// in a namespace on first access by name), so it is safe for looking around.
    pub fn save_all(&self) -> Result<String> {
        let program = self.tool("save");
        self.place.run_ok(&program, &[], b"", "save")
    }

    /// The user-defined and built-in chains of `table`.
    pub fn chains(&self, table: Table) -> Result<BTreeSet<String>> {
        Ok(chains_of(&self.save(table)?))
    }

    /// Makes sure `table`/`chain` holds a rule `args` (iptables' own syntax, as in `-C`),
    /// inserting it at `position` if not. Returns whether it had to be added.
    pub fn ensure_rule(
        &self,
        position: Position,
        table: Table,
        chain: &str,
        args: &[&str],
    ) -> Result<bool> {
        if self.rule_exists(table, chain, args)? {
            return Ok(false);
        }
        let op = match position {
            Position::Prepend => "-I",
            Position::Append => "-A",
        };
        self.single(op, table, chain, args, "add a rule")?;
        Ok(true)
    }

    /// Removes the rule `args` from `table`/`chain`; returns whether there was one.
    pub fn delete_rule(&self, table: Table, chain: &str, args: &[&str]) -> Result<bool> {
        if !self.rule_exists(table, chain, args)? {
            return Ok(false);
        }
        self.single("-D", table, chain, args, "delete a rule")?;
        Ok(true)
    }

    /// Creates `table`/`chain` if it does not exist; returns whether it had to.
    pub fn ensure_chain(&self, table: Table, chain: &str) -> Result<bool> {
        if self.chains(table)?.contains(chain) {
            return Ok(false);
        }
        self.single("-N", table, chain, &[], "create a chain")?;
        Ok(true)
    }

    fn rule_exists(&self, table: Table, chain: &str, args: &[&str]) -> Result<bool> {
        let program = self.tool("");
        let mut argv = vec!["-w", "-t", table.name(), "-C", chain];
        argv.extend_from_slice(args);
        let ran = self.place.run(&program, &argv, b"")?;
        // -C exits 1 for "no such rule" and also when the chain does not exist (a missing
        // chain holds no rule); anything else (2: bad arguments, 4: resource problem) is real.
        if ran.ok {
            return Ok(true);
        }
        if ran.stderr.contains("does a matching rule exist")
            || ran.stderr.contains("No chain/target/match by that name")
            || ran.stderr.is_empty()
        {
            return Ok(false);
        }
        Err(self.place.failed(&program, "check a rule", ran.stderr))
    }

    fn single(&self, op: &str, table: Table, chain: &str, args: &[&str], what: &str) -> Result<()> {
        let program = self.tool("");
        let mut argv = vec!["-w", "-t", table.name(), op, chain];
        argv.extend_from_slice(args);
        self.place.run_ok(&program, &argv, b"", what).map(drop)
    }

    /// `iptables-nft`, `ip6tables-legacy-restore`, …
    fn tool(&self, what: &str) -> String {
        let base = match self.family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        };
        let variant = self.variant.suffix();
        if what.is_empty() {
            format!("{base}-{variant}")
        } else {
            format!("{base}-{variant}-{what}")
        }
    }
}

// === impl Table ===

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Self::Filter => "filter",
            Self::Nat => "nat",
            Self::Mangle => "mangle",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The chains of each table (`*nat` … `COMMIT`) in iptables-save output.
pub fn chains_by_table(saved: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut table = None;
    for line in saved.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = Some(out.entry(t.trim().to_owned()).or_default());
        } else if let (Some(chains), Some(name)) = (
            table.as_mut(),
            line.strip_prefix(':')
                .and_then(|rest| rest.split_whitespace().next()),
        ) {
            chains.insert(name.to_owned());
        }
    }
    out
}

/// The chains declared (`:NAME POLICY [counters]`) in iptables-save output.
pub fn chains_of(saved: &str) -> BTreeSet<String> {
    saved
        .lines()
        .filter_map(|l| l.strip_prefix(':'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_named_after_family_and_backend() {
        let v4 = Iptables::new(None, Family::V4, Variant::Nft);
        assert_eq!(v4.tool("restore"), "iptables-nft-restore");
        assert_eq!(v4.tool(""), "iptables-nft");
        let v6 = Iptables::new(None, Family::V6, Variant::Legacy);
        assert_eq!(v6.tool("save"), "ip6tables-legacy-save");
    }

    #[test]
    fn chains_are_read_from_save_output() {
        let saved = "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n\
                     :KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n";
        let chains = chains_of(saved);
        assert_eq!(
            chains.into_iter().collect::<Vec<_>>(),
            ["KUBE-SERVICES", "PREROUTING"]
        );
        let two = format!("{saved}*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n");
        let by_table = chains_by_table(&two);
        assert_eq!(by_table.len(), 2);
        assert!(by_table["nat"].contains("KUBE-SERVICES"));
        assert!(!by_table["filter"].contains("KUBE-SERVICES"));
    }
}
