//! Desired state → `nft -f` transaction text: a full rewrite, or the difference for the
//! service ports that changed. Chains are deleted only after the map elements and rules
//! pointing at them are gone (flushed or deleted earlier in the same transaction).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::render::TABLE;
use super::ruleset::{Chain, Desired, Element, PortObjects};
use crate::plan::PortKey;

/// What the kernel's table holds now, by name (read back before a full sync).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Existing {
    pub chains: BTreeSet<String>,
    pub sets: BTreeSet<String>,
}

/// Builds one transaction.
struct Tx<'a> {
    out: String,
    family: &'a str,
}

impl Tx<'_> {
    fn line(&mut self, verb: &str, what: &str, rest: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "{verb} {what} {} {TABLE} {rest}", self.family);
    }

    fn add_chain(&mut self, c: &Chain) {
        self.line(
            "add",
            "chain",
            format_args!("{} {{ comment \"{}\" ; }}", c.name, c.comment),
        );
    }

    fn rules(&mut self, c: &Chain) {
        for r in &c.rules {
            self.line("add", "rule", format_args!("{} {r}", c.name));
        }
    }

    fn element(&mut self, verb: &str, e: &Element) {
        self.line(
            verb,
            "element",
            format_args!("{} {{ {} }}", e.set, e.render(verb == "add")),
        );
    }

    fn affinity(&mut self, name: &str, timeout: u32, family: &str) {
        let ty = if family == "ip6" {
            "ipv6_addr"
        } else {
            "ipv4_addr"
        };
        self.line(
            "add",
            "set",
            format_args!("{name} {{ type {ty} ; flags dynamic,timeout ; timeout {timeout}s ; }}"),
        );
    }
}

/// Rewrites the whole table: the skeleton and every port's objects are (re)declared and
/// refilled, maps refilled, and whatever `existing` holds that is no longer desired is
/// flushed and then deleted. Affinity sets that stay are not flushed (clients keep their
/// endpoint across a restart or resync).
pub fn full(d: &Desired, existing: &Existing) -> String {
    let mut tx = Tx {
        out: String::new(),
        family: d.family,
    };
    let _ = writeln!(
        tx.out,
        "add table {} {TABLE} {{ comment \"rules for kube-proxy\" ; }}",
        d.family
    );
    for (name, body) in &d.skeleton.chains {
        if body.is_empty() {
            tx.line("add", "chain", format_args!("{name}"));
        } else {
            tx.line("add", "chain", format_args!("{name} {{ {body} }}"));
        }
        tx.line("flush", "chain", format_args!("{name}"));
    }
    for (name, body) in &d.skeleton.sets {
        tx.line(
            "add",
            if body.contains(": verdict") {
                "map"
            } else {
                "set"
            },
            format_args!("{name} {{ {body} }}"),
        );
        tx.line(
            "flush",
            if body.contains(": verdict") {
                "map"
            } else {
                "set"
            },
            format_args!("{name}"),
        );
    }
    let mut desired_chains: BTreeSet<&str> =
        d.skeleton.chains.iter().map(|(n, _)| n.as_str()).collect();
    let mut desired_sets: BTreeSet<&str> =
        d.skeleton.sets.iter().map(|(n, _)| n.as_str()).collect();
    for objs in d.ports.values() {
        for c in &objs.chains {
            tx.add_chain(c);
            tx.line("flush", "chain", format_args!("{}", c.name));
            desired_chains.insert(&c.name);
        }
        for s in &objs.affinity_sets {
            tx.affinity(&s.name, s.timeout_secs, d.family);
            desired_sets.insert(&s.name);
        }
    }
    let stale_chains: Vec<&String> = existing
        .chains
        .iter()
        .filter(|c| !desired_chains.contains(c.as_str()))
        .collect();
    for c in &stale_chains {
        tx.line("flush", "chain", format_args!("{c}"));
    }
    for (chain, rule) in &d.skeleton.rules {
        tx.line("add", "rule", format_args!("{chain} {rule}"));
    }
    for e in &d.skeleton.elements {
        tx.element("add", e);
    }
    for objs in d.ports.values() {
        for c in &objs.chains {
            tx.rules(c);
        }
        for e in &objs.elements {
            tx.element("add", e);
        }
    }
    for c in stale_chains {
        tx.line("delete", "chain", format_args!("{c}"));
    }
    for s in existing
        .sets
        .iter()
        .filter(|s| !desired_sets.contains(s.as_str()))
    {
        tx.line("delete", "set", format_args!("{s}"));
    }
    tx.out
}

/// Changes only what differs between `old` and `new` for the ports in `keys`.
pub fn partial(
    family: &str,
    old: &BTreeMap<PortKey, PortObjects>,
    new: &BTreeMap<PortKey, PortObjects>,
    keys: &BTreeSet<&PortKey>,
) -> String {
    let mut tx = Tx {
        out: String::new(),
        family,
    };
    let empty = PortObjects::default();
    let mut add_later: Vec<&Element> = Vec::new();
    let mut filled: Vec<&Chain> = Vec::new();
    let mut gone_chains: Vec<&str> = Vec::new();
    let mut gone_sets: Vec<&str> = Vec::new();
    // A ClusterIP shared by two ports that both go is deleted once.
    let mut deleted: BTreeSet<(&str, &str)> = BTreeSet::new();
    for key in keys {
        let o = old.get(*key).unwrap_or(&empty);
        let n = new.get(*key).unwrap_or(&empty);
        // Elements: drop what is not wanted as it is, first of all — but a set element
        // (a ClusterIP) other ports of the Service still list stays.
        for e in &o.elements {
            if !n.elements.contains(e)
                && (e.value.is_some() || !shared(e, key, old, new, keys))
                && deleted.insert((e.set, &e.key))
            {
                tx.element("delete", e);
            }
        }
        for e in &n.elements {
            if !o.elements.contains(e) {
                add_later.push(e);
            }
        }
        for c in &n.chains {
            match o.chains.iter().find(|oc| oc.name == c.name) {
                None => {
                    tx.add_chain(c);
                    filled.push(c);
                }
                Some(oc) if oc != c => {
                    tx.add_chain(c);
                    tx.line("flush", "chain", format_args!("{}", c.name));
                    filled.push(c);
                }
                Some(_) => {}
            }
        }
        for s in &n.affinity_sets {
            if !o.affinity_sets.contains(s) {
                tx.affinity(&s.name, s.timeout_secs, family);
            }
        }
        for oc in &o.chains {
            if !n.chains.iter().any(|c| c.name == oc.name) {
                gone_chains.push(&oc.name);
            }
        }
        for os in &o.affinity_sets {
            if !n.affinity_sets.iter().any(|s| s.name == os.name) {
                gone_sets.push(&os.name);
            }
        }
    }
    for c in &gone_chains {
        tx.line("flush", "chain", format_args!("{c}"));
    }
    for c in filled {
        tx.rules(c);
    }
    for e in add_later {
        tx.element("add", e);
    }
    for c in gone_chains {
        tx.line("delete", "chain", format_args!("{c}"));
    }
    for s in gone_sets {
        tx.line("delete", "set", format_args!("{s}"));
    }
    tx.out
}

/// Whether another port of `key`'s Service lists `e` after this transaction.
fn shared(
    e: &Element,
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

/// Parses `nft -t list chains <family>` / `nft -t list sets <family>` output: the names in
/// the kube-proxy table.
pub fn parse_names(listing: &str, family: &str, kind: &str) -> BTreeSet<String> {
    let header = format!("table {family} {TABLE} {{");
    let mut inside = false;
    let mut out = BTreeSet::new();
    for line in listing.lines() {
        if line.starts_with("table ") {
            inside = line.trim_end() == header;
            continue;
        }
        if !inside {
            continue;
        }
        let t = line.trim_start();
        let depth = line.len() - t.len();
        if depth != 1 {
            continue;
        }
        for k in kind.split('|') {
            let name = t
                .strip_prefix(k)
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|r| r.strip_suffix(" {"));
            if let Some(name) = name {
                out.insert(name.trim_matches('"').to_owned());
            }
        }
    }
    out
}
