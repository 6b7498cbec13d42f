//! Transactions as `nft -f` scripts, and whole tables in the layout of `nft list table`.

use std::fmt::{self, Display, Formatter, Write};

use super::RuleText;
use crate::object::{ChainDecl, ElemExtra, MapData, SetDecl, Table};
use crate::transaction::{Op, SetKind, Transaction};
use crate::types::Key;

/// `{ type … ; }` of a set declaration (empty for none).
fn set_body(out: &mut String, d: &SetDecl) {
    let types: Vec<&str> = d.key.iter().map(|t| t.name()).collect();
    let _ = write!(out, " {{ type {}", types.join(" . "));
    match d.data {
        Some(MapData::Verdict) => out.push_str(" : verdict"),
        Some(MapData::Type(t)) => {
            let _ = write!(out, " : {}", t.name());
        }
        None => {}
    }
    out.push_str(" ;");
    let flags = set_flags(d);
    if !flags.is_empty() {
        let _ = write!(out, " flags {flags} ;");
    }
    if let Some(t) = d.timeout {
        let _ = write!(out, " timeout {t}s ;");
    }
    if let Some(c) = &d.comment {
        let _ = write!(out, " comment \"{c}\" ;");
    }
    out.push_str(" }");
}

fn set_flags(d: &SetDecl) -> String {
    let mut flags = Vec::new();
    if d.flags.dynamic {
        flags.push("dynamic");
    }
    if d.flags.interval {
        flags.push("interval");
    }
    if d.flags.timeout {
        flags.push("timeout");
    }
    flags.join(",")
}

fn element(out: &mut String, key: &Key, extra: &ElemExtra) {
    let _ = write!(out, "{key}");
    if let Some(c) = &extra.comment {
        let _ = write!(out, " comment \"{c}\"");
    }
    if let Some(d) = &extra.data {
        let _ = write!(out, " : {d}");
    }
}

fn chain_body(out: &mut String, d: &ChainDecl) {
    if d.base.is_none() && d.comment.is_none() {
        return;
    }
    out.push_str(" {");
    if let Some(b) = &d.base {
        let _ = write!(
            out,
            " type {} hook {} priority {} ; policy {} ;",
            b.ty, b.hook, b.priority, b.policy
        );
    }
    if let Some(c) = &d.comment {
        let _ = write!(out, " comment \"{c}\" ;");
    }
    out.push_str(" }");
}

/// The transaction as an `nft -f` script, one command a line.
pub fn script(tx: &Transaction) -> String {
    let mut out = String::new();
    for op in &tx.ops {
        op_into(&mut out, tx, op);
        out.push('\n');
    }
    out
}

/// One operation of `tx` as its `nft -f` line (how an error names what failed).
pub fn op_line(tx: &Transaction, op: &Op) -> String {
    let mut out = String::new();
    op_into(&mut out, tx, op);
    out
}

fn op_into(out: &mut String, tx: &Transaction, op: &Op) {
    let t = format!("{} {}", tx.table.family, tx.table.name);
    let family = tx.table.family;
    match op {
        Op::AddTable { comment } => {
            let _ = write!(out, "add table {t}");
            if let Some(c) = comment {
                let _ = write!(out, " {{ comment \"{c}\" ; }}");
            }
        }
        Op::DeleteTable => {
            let _ = write!(out, "delete table {t}");
        }
        Op::AddChain(d) => {
            let _ = write!(out, "add chain {t} {}", d.name);
            chain_body(out, d);
        }
        Op::FlushChain(c) => {
            let _ = write!(out, "flush chain {t} {c}");
        }
        Op::DeleteChain(c) => {
            let _ = write!(out, "delete chain {t} {c}");
        }
        Op::AddRule { chain, rule } => {
            let _ = write!(out, "add rule {t} {chain} {}", RuleText(family, rule));
        }
        Op::DeleteRule { chain, handle } => {
            let _ = write!(out, "delete rule {t} {chain} handle {handle}");
        }
        Op::AddSet(d) => {
            let kind = if d.is_map() { "map" } else { "set" };
            let _ = write!(out, "add {kind} {t} {}", d.name);
            set_body(out, d);
        }
        Op::FlushSet { name, kind } => {
            let kind = match kind {
                SetKind::Set => "set",
                SetKind::Map => "map",
            };
            let _ = write!(out, "flush {kind} {t} {name}");
        }
        Op::DeleteSet(s) => {
            let _ = write!(out, "delete set {t} {s}");
        }
        Op::AddElements { set, elements } => {
            let _ = write!(out, "add element {t} {set} {{ ");
            for (i, e) in elements.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                element(out, &e.key, &e.extra);
            }
            out.push_str(" }");
        }
        Op::DeleteElements { set, keys } => {
            let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
            let _ = write!(out, "delete element {t} {set} {{ {} }}", keys.join(", "));
        }
    }
}

/// The table as `nft list table` lays it out (sets first, then chains), sorted by name:
/// the debug view and the form golden files compare.
impl Display for Table {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "table {} {} {{", self.id.family, self.id.name)?;
        if let Some(c) = &self.comment {
            writeln!(f, "\tcomment \"{c}\"")?;
        }
        for s in self.sets.values() {
            let d = &s.decl;
            let kind = if d.is_map() { "map" } else { "set" };
            writeln!(f, "\t{kind} {} {{", d.name)?;
            let types: Vec<&str> = d.key.iter().map(|t| t.name()).collect();
            write!(f, "\t\ttype {}", types.join(" . "))?;
            match d.data {
                Some(MapData::Verdict) => writeln!(f, " : verdict")?,
                Some(MapData::Type(t)) => writeln!(f, " : {}", t.name())?,
                None => writeln!(f)?,
            }
            let flags = set_flags(d);
            if !flags.is_empty() {
                writeln!(f, "\t\tflags {flags}")?;
            }
            if let Some(t) = d.timeout {
                writeln!(f, "\t\ttimeout {t}s")?;
            }
            if let Some(c) = &d.comment {
                writeln!(f, "\t\tcomment \"{c}\"")?;
            }
            for (k, extra) in &s.elements {
                let mut e = String::new();
                element(&mut e, k, extra);
                writeln!(f, "\t\telement {e}")?;
            }
            writeln!(f, "\t}}")?;
        }
        for c in self.chains.values() {
            writeln!(f, "\tchain {} {{", c.decl.name)?;
            if let Some(comment) = &c.decl.comment {
                writeln!(f, "\t\tcomment \"{comment}\"")?;
            }
            if let Some(b) = &c.decl.base {
                writeln!(f, "\t\t{b}")?;
            }
            for r in &c.rules {
                writeln!(f, "\t\t{}", RuleText(self.id.family, r))?;
            }
            writeln!(f, "\t}}")?;
        }
        writeln!(f, "}}")
    }
}
