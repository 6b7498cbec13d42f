//! The desired nftables state as data: the table's fixed skeleton plus, per service port,
//! the chains, affinity sets and map elements it owns. Kept per port so a partial sync can
//! diff exactly the ports that changed.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::plan::PortKey;

/// A regular chain and its rules, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub name: String,
    /// `ns/name:port`, shown by `nft list`.
    pub comment: String,
    pub rules: Vec<String>,
}

/// An element of one of the table's maps or sets: `key` (nft syntax), the verdict for maps
/// (`None` for sets), and its comment.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Element {
    pub set: &'static str,
    pub key: String,
    pub value: Option<String>,
    pub comment: Option<String>,
}

/// A per-endpoint ClientIP affinity set and its timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinitySet {
    pub name: String,
    pub timeout_secs: u32,
}

/// Everything one service port owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortObjects {
    pub chains: Vec<Chain>,
    pub affinity_sets: Vec<AffinitySet>,
    pub elements: Vec<Element>,
}

/// The whole desired table of one family.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// `ip` or `ip6`.
    pub family: &'static str,
    /// Declarations of the fixed chains, sets and maps (`add …` lines, without the table
    /// prefix), and the rules of the fixed chains.
    pub skeleton: Skeleton,
    pub ports: BTreeMap<PortKey, PortObjects>,
}

/// The fixed part of the table: base chains, dispatch chains and their rules, the named
/// sets and maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skeleton {
    /// `(name, declaration body)`, e.g. `("nat-prerouting", "type nat hook prerouting priority dstnat ;")`.
    pub chains: Vec<(String, String)>,
    /// `(name, declaration body)` of sets and maps.
    pub sets: Vec<(String, String)>,
    /// `(chain, rule)` in order.
    pub rules: Vec<(String, String)>,
    /// Elements of fixed sets (the nodeport-ips).
    pub elements: Vec<Element>,
}

// === impl Element ===

impl Element {
    /// The `{ … }` body of an add or delete element command.
    pub fn render(&self, with_value: bool) -> String {
        let mut s = self.key.clone();
        if with_value {
            if let Some(c) = &self.comment {
                let _ = write!(s, " comment \"{c}\"");
            }
            if let Some(v) = &self.value {
                let _ = write!(s, " : {v}");
            }
        }
        s
    }
}

// === impl Desired ===

impl Desired {
    pub fn rule_count(&self) -> usize {
        self.skeleton.rules.len()
            + self
                .ports
                .values()
                .flat_map(|p| p.chains.iter())
                .map(|c| c.rules.len())
                .sum::<usize>()
    }

    pub fn element_count(&self) -> usize {
        self.skeleton.elements.len() + self.ports.values().map(|p| p.elements.len()).sum::<usize>()
    }

    pub fn chain_count(&self) -> usize {
        self.skeleton.chains.len() + self.ports.values().map(|p| p.chains.len()).sum::<usize>()
    }

    /// The table as readable text, sorted, for golden files: skeleton, then each port.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "table {} kube-proxy", self.family);
        for (name, body) in &self.skeleton.chains {
            let _ = writeln!(out, "chain {name} {{ {body} }}");
            for (_, rule) in self.skeleton.rules.iter().filter(|(c, _)| c == name) {
                let _ = writeln!(out, "\t{rule}");
            }
        }
        for (name, body) in &self.skeleton.sets {
            let _ = writeln!(out, "set {name} {{ {body} }}");
        }
        for e in &self.skeleton.elements {
            let _ = writeln!(out, "element {} {{ {} }}", e.set, e.render(true));
        }
        for (key, objs) in &self.ports {
            let _ = writeln!(out, "\n# {} ({:?})", key.name, key.family);
            for e in &objs.elements {
                let _ = writeln!(out, "element {} {{ {} }}", e.set, e.render(true));
            }
            for s in &objs.affinity_sets {
                let _ = writeln!(out, "set {} {{ timeout {}s }}", s.name, s.timeout_secs);
            }
            for c in &objs.chains {
                let _ = writeln!(out, "chain {} {{ comment \"{}\" }}", c.name, c.comment);
                for r in &c.rules {
                    let _ = writeln!(out, "\t{r}");
                }
            }
        }
        out
    }
}
