//! The desired nftables state as typed podnet-nft objects: the table's fixed skeleton plus,
//! per service port, the chains, affinity sets and map elements it owns. Kept per port so a
//! partial sync can diff exactly the ports that changed. What a sync applied is kept in a
//! compact form ([`Applied`]): names and fingerprints instead of whole chains, so the agent
//! does not hold a second copy of the table at tens of thousands of Services.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use podnet_nft::object::{Chain, ChainDecl, Element, Rule, SetDecl, Table};
use podnet_nft::types::Family;

use super::render::TABLE;
use crate::plan::PortKey;

/// An element of one of the table's maps or sets.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SetElement {
    pub set: &'static str,
    pub element: Element,
}

/// Everything one service port owns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortObjects {
    pub chains: Vec<Chain>,
    /// Per-endpoint ClientIP affinity sets (dynamic, with a timeout).
    pub affinity_sets: Vec<SetDecl>,
    pub elements: Vec<SetElement>,
}

/// The whole desired table of one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// `ip` or `ip6`.
    pub family: Family,
    pub skeleton: Skeleton,
    pub ports: BTreeMap<PortKey, PortObjects>,
}

/// The fixed part of the table: base chains, dispatch chains and their rules, the named
/// sets and maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Skeleton {
    pub chains: Vec<ChainDecl>,
    pub sets: Vec<SetDecl>,
    /// `(chain, rule)` in order.
    pub rules: Vec<(String, Rule)>,
    /// Elements of fixed sets (the nodeport-ips).
    pub elements: Vec<SetElement>,
}

/// What a partial sync needs to know of a port a sync applied: its chains and affinity sets
/// by name with a fingerprint of their content (to tell whether they change), and its map
/// and set elements (small, and deleted by key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppliedPort {
    pub chains: Vec<(String, u64)>,
    pub affinity_sets: Vec<(String, u64)>,
    pub elements: Vec<SetElement>,
    pub rules: usize,
}

/// What the last successful sync applied of one family's table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub skeleton: Skeleton,
    pub ports: BTreeMap<PortKey, AppliedPort>,
}

/// A fingerprint of `v`'s content (a 64-bit hash: a collision, which would hide a change
/// from partial syncs, is as likely as never).
pub fn fingerprint(v: &impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// A chain's fingerprint: its declaration and rules.
pub fn chain_fingerprint(c: &Chain) -> u64 {
    fingerprint(&(&c.decl, &c.rules))
}

// === impl AppliedPort ===

impl AppliedPort {
    pub fn of(o: &PortObjects) -> Self {
        Self {
            chains: o
                .chains
                .iter()
                .map(|c| (c.decl.name.clone(), chain_fingerprint(c)))
                .collect(),
            affinity_sets: o
                .affinity_sets
                .iter()
                .map(|s| (s.name.clone(), fingerprint(s)))
                .collect(),
            elements: o.elements.clone(),
            rules: o.chains.iter().map(|c| c.rules.len()).sum(),
        }
    }
}

// === impl Applied ===

impl Applied {
    pub fn of(d: &Desired) -> Self {
        Self {
            skeleton: d.skeleton.clone(),
            ports: d
                .ports
                .iter()
                .map(|(k, o)| (k.clone(), AppliedPort::of(o)))
                .collect(),
        }
    }

    pub fn rule_count(&self) -> usize {
        self.skeleton.rules.len() + self.ports.values().map(|p| p.rules).sum::<usize>()
    }

    pub fn element_count(&self) -> usize {
        self.skeleton.elements.len() + self.ports.values().map(|p| p.elements.len()).sum::<usize>()
    }

    pub fn chain_count(&self) -> usize {
        self.skeleton.chains.len() + self.ports.values().map(|p| p.chains.len()).sum::<usize>()
    }
}

// === impl Desired ===

impl Desired {
    /// The whole table as one podnet-nft [`Table`]: what golden files show (its `Display`)
    /// and what the packet tracer walks.
    pub fn table(&self) -> Table {
        let mut t = Table::new(self.family, TABLE);
        t.comment = Some("rules for kube-proxy".to_owned());
        for s in &self.skeleton.sets {
            t.set(s.clone());
        }
        for c in &self.skeleton.chains {
            t.chain(c.clone());
        }
        for (chain, rule) in &self.skeleton.rules {
            t.chain(ChainDecl::regular(chain)).rule(rule.clone());
        }
        let elements = self
            .skeleton
            .elements
            .iter()
            .chain(self.ports.values().flat_map(|p| p.elements.iter()));
        for e in elements {
            if let Some(s) = t.sets.get_mut(e.set) {
                s.element(e.element.clone());
            }
        }
        for objs in self.ports.values() {
            for s in &objs.affinity_sets {
                t.set(s.clone());
            }
            for c in &objs.chains {
                t.chains.insert(c.decl.name.clone(), c.clone());
            }
        }
        t
    }
}
