//! The desired nftables state as typed podnet-nft objects: the table's fixed skeleton plus,
//! per service port, the chains, affinity sets and map elements it owns. Kept per port so a
//! partial sync can diff exactly the ports that changed.

use std::collections::BTreeMap;

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
