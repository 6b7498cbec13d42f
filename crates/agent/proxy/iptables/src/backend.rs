//! The iptables mode as a [`Backend`]: renders the plan, writes it with
//! `iptables-restore --noflush`, one restore per family and sync.
//!
//! A full sync (the first, the periodic one, any after a failure) ensures the jumps from
//! the built-in chains, rewrites every chain of ours, and flushes and deletes the chains of
//! ours the kernel holds but the plan no longer wants (read back with `iptables-save`), so
//! it repairs anything changed behind the agent's back. A partial sync, as kube-proxy's,
//! writes only the chains of the service ports that changed plus the shared chains whose
//! content changed (unlike kube-proxy, which rewrites every shared chain each time: with
//! 30k Services that is 30k rules of KUBE-SERVICES for a one-endpoint change), and deletes
//! the chains those ports no longer use. Restoring over existing chains never touches
//! conntrack, so established connections survive syncs and agent restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use podnet_agent_proxy::{
    Backend, NodeInfo, NodePortAddressConfig, Plan, PortChange, PortKey, SyncKind, SyncStats,
};
use podnet_iptables::{Family, Iptables, Position, Table, Variant};
use podnet_k8s_model::AddressFamily;

use crate::error::Result;
use crate::names::is_service_chain;
use crate::render::top::{FILTER_CHAINS, MARK_MASQ, NAT_CHAINS};
use crate::render::{
    Context, DEFAULT_MASQUERADE_BIT, LARGE_CLUSTER_ENDPOINTS, PortRules, RenderConfig, Shared,
    jump_rules, render_port,
};
use crate::ruleset::{Applied, Ruleset, TableRules};

const MODE: &str = "iptables";

/// Port chains per `iptables-restore` when a sync writes many (see
/// [`FamilyProxier::write_in_batches`]).
const BATCH_CHAINS: usize = 1000;

/// How the iptables mode is set up on a node (kube-proxy's flags).
#[derive(Clone, Debug)]
pub struct IptablesConfig {
    /// nf_tables or legacy; see [`Variant::detect`].
    pub variant: Variant,
    /// `--nodeport-addresses` (iptables default: every local address).
    pub node_ports: NodePortAddressConfig,
    /// `--masquerade-all`.
    pub masquerade_all: bool,
    /// `--iptables-masquerade-bit` (14: mark 0x4000).
    pub masquerade_bit: u8,
}

/// The iptables mode in one network namespace.
pub struct IptablesBackend {
    families: Vec<FamilyProxier>,
}

/// One family: its iptables, its node facts, what it last wrote.
struct FamilyProxier {
    ipt: Iptables,
    /// `node_port_addresses` re-resolved from `node_ports` at each full sync.
    config: RenderConfig,
    node_ports: NodePortAddressConfig,
    node: NodeInfo,
    /// Every service port's contribution to the shared chains and the names of its chains.
    ports: BTreeMap<PortKey, Cached>,
    /// The shared chains as the kernel holds them after the last successful sync; `None`:
    /// the next sync must be full.
    applied: Option<(Applied, Applied)>,
    large_cluster: bool,
}

struct Cached {
    shared: Shared,
    chains: Vec<String>,
    rules: usize,
}

// === impl IptablesConfig ===

impl IptablesConfig {
    /// kube-proxy's iptables defaults, with the backend detected in `netns`.
    pub fn detect(netns: Option<&Path>) -> Result<Self> {
        Ok(Self {
            variant: Variant::detect(netns)?,
            node_ports: NodePortAddressConfig::All,
            masquerade_all: false,
            masquerade_bit: DEFAULT_MASQUERADE_BIT,
        })
    }
}

// === impl IptablesBackend ===

impl IptablesBackend {
    /// The mode for `node` in `netns` (`None`: the agent's own), one family per address
    /// family the node has (IPv4 when it says nothing). Builds, touches nothing.
    pub fn new(netns: Option<&Path>, config: IptablesConfig, node: NodeInfo) -> Self {
        let families = node_families(&node)
            .into_iter()
            .map(|family| {
                let mut render = RenderConfig::new(family);
                render.masquerade_all = config.masquerade_all;
                render.masquerade_bit = config.masquerade_bit;
                FamilyProxier {
                    ipt: Iptables::new(netns, ipt_family(family), config.variant),
                    config: render,
                    node_ports: config.node_ports.clone(),
                    node: node.clone(),
                    ports: BTreeMap::new(),
                    applied: None,
                    large_cluster: false,
                }
            })
            .collect();
        Self { families }
    }

    /// The whole ruleset `plan` renders to, for one family, as the golden files show it
    /// (what a full sync writes, minus deletions).
    pub fn render(config: &RenderConfig, node: &NodeInfo, plan: &Plan) -> Ruleset {
        let large = endpoint_chains(plan, config.family) > LARGE_CLUSTER_ENDPOINTS;
        let ctx = Context::new(config.clone(), node, large);
        let rendered: Vec<PortRules> = plan
            .ports()
            .filter(|p| p.key.family == config.family)
            .map(|p| render_port(p, &ctx))
            .collect();
        let mut rs = Shared::assemble(config, rendered.iter().map(|r| &r.shared));
        for r in &rendered {
            for (chain, rules) in &r.chains {
                rs.nat.chain(chain);
                for rule in rules {
                    rs.nat.rule(chain, rule.clone());
                }
            }
        }
        rs
    }
}

impl Backend for IptablesBackend {
    fn mode(&self) -> &'static str {
        MODE
    }

    fn sync(
        &mut self,
        plan: &Plan,
        changes: &[PortChange],
        kind: SyncKind,
    ) -> podnet_agent_proxy::Result<SyncStats> {
        let start = Instant::now();
        let mut total = SyncStats::default();
        for f in &mut self.families {
            let stats = f
                .sync(plan, changes, kind)
                .map_err(|e| e.into_proxy(MODE))?;
            total.rules += stats.rules;
            total.chains += stats.chains;
            total.transaction_lines += stats.transaction_lines;
        }
        total.duration = start.elapsed();
        Ok(total)
    }

    /// The node facts the rules depend on (cluster CIDR, node IP) changed: the next sync is
    /// full.
    fn set_node(&mut self, node: &NodeInfo) {
        for f in &mut self.families {
            if &f.node != node {
                f.node = node.clone();
                f.applied = None;
            }
        }
    }

    fn cleanup(&mut self) -> podnet_agent_proxy::Result<()> {
        for f in &mut self.families {
            crate::cleanup::cleanup_family(&f.ipt).map_err(|e| e.into_proxy(MODE))?;
            f.applied = None;
            f.ports.clear();
        }
        Ok(())
    }
}

// === impl FamilyProxier ===

impl FamilyProxier {
    /// Writes the port chain `groups` in several restores of about [`BATCH_CHAINS`] chains,
    /// each port's chains together (a KUBE-SVC and the KUBE-SEPs it jumps to change at
    /// once). The first batch also writes KUBE-MARK-MASQ (`mark_masq`, its rules), which
    /// endpoint chains jump to. Returns the lines written.
    ///
    /// iptables-nft-restore with `--noflush` takes time quadratic in the chains of one input
    /// (measured here: 1k Services × 3 endpoints 1.8–3 s, 2k 5–10 s, 4k 24–42 s, 10k over
    /// 8 minutes), while batches of 250 Services take 0.25 s each. The shared chains that
    /// make new port chains reachable, and the deletion of stale ones, come after the last
    /// batch, so every Service still changes atomically.
    fn write_in_batches(
        &self,
        groups: Vec<Vec<(String, Vec<String>)>>,
        mark_masq: Vec<String>,
    ) -> Result<usize> {
        let mut lines = 0;
        let mut batch = TableRules::default();
        batch.chain(MARK_MASQ);
        for rule in mark_masq {
            batch.rule(MARK_MASQ, rule);
        }
        let mut flush = |batch: &mut TableRules| -> Result<()> {
            let mut input = String::new();
            batch.restore_section(Table::Nat.name(), None, &BTreeSet::new(), &mut input);
            self.ipt.restore(&input)?;
            lines += input.lines().count();
            *batch = TableRules::default();
            Ok(())
        };
        for group in groups {
            for (chain, rules) in group {
                batch.chain(&chain);
                for rule in rules {
                    batch.rule(&chain, rule);
                }
            }
            if batch.chain_count() >= BATCH_CHAINS {
                flush(&mut batch)?;
            }
        }
        if batch.chain_count() > 0 {
            flush(&mut batch)?;
        }
        Ok(lines)
    }

    /// `--nodeport-addresses` as of now: the node's addresses may have changed since.
    fn resolve_node_ports(&mut self) -> Result<()> {
        let local = match self.node_ports {
            NodePortAddressConfig::Cidrs(_) => podnet_iptables::local_addresses(self.ipt.netns())?,
            _ => Vec::new(),
        };
        self.config.node_port_addresses =
            self.node_ports
                .resolve(self.config.family, &self.node, &local);
        Ok(())
    }

    fn sync(&mut self, plan: &Plan, changes: &[PortChange], kind: SyncKind) -> Result<SyncStats> {
        let family = self.config.family;
        let large = endpoint_chains(plan, family) > LARGE_CLUSTER_ENDPOINTS;
        let full = kind == SyncKind::Full || self.applied.is_none() || large != self.large_cluster;
        self.large_cluster = large;
        let ctx = Context::new(self.config.clone(), &self.node, large);
        let span = tracing::debug_span!("iptables sync", ?family, full);
        let _enter = span.enter();

        // The chains of changed (or, in a full sync, all) ports, freshly rendered, one group
        // per port.
        let mut own: Vec<Vec<(String, Vec<String>)>> = Vec::new();
        let mut stale: BTreeSet<String> = BTreeSet::new();
        if full {
            self.resolve_node_ports()?;
            for jump in jump_rules() {
                self.ipt.ensure_chain(jump.table, jump.to)?;
                let args: Vec<&str> = jump.args.iter().map(String::as_str).collect();
                self.ipt
                    .ensure_rule(Position::Prepend, jump.table, jump.from, &args)?;
            }
            self.ports.clear();
            for p in plan.ports().filter(|p| p.key.family == family) {
                let r = render_port(p, &ctx);
                self.ports.insert(p.key.clone(), cached(&r));
                own.push(r.chains);
            }
            let wanted: BTreeSet<&str> = own.iter().flatten().map(|(c, _)| c.as_str()).collect();
            stale = podnet_iptables::chains_of(&self.ipt.save(Table::Nat)?)
                .into_iter()
                .filter(|c| is_service_chain(c) && !wanted.contains(c.as_str()))
                .collect();
        } else {
            for change in changes.iter().filter(|c| c.key.family == family) {
                let old = self
                    .ports
                    .remove(&change.key)
                    .map(|c| c.chains)
                    .unwrap_or_default();
                let new = change.new.as_ref().map(|p| render_port(p, &ctx));
                let kept: BTreeSet<&str> = new
                    .iter()
                    .flat_map(|r| r.chains.iter().map(|(c, _)| c.as_str()))
                    .collect();
                stale.extend(old.into_iter().filter(|c| !kept.contains(c.as_str())));
                if let Some(r) = new {
                    self.ports.insert(change.key.clone(), cached(&r));
                    own.push(r.chains);
                }
            }
        }

        let shared = Shared::assemble(&self.config, self.ports.values().map(|c| &c.shared));
        let now_applied = (shared.filter.applied(), shared.nat.applied());
        let previous = if full { None } else { self.applied.take() };
        // Until this sync succeeds, what the kernel holds is unknown: the next one is full.
        self.applied = None;
        let mut lines = 0;
        let own_chains: usize = own.iter().map(Vec::len).sum();
        if own_chains > BATCH_CHAINS {
            let mark_masq = shared.nat.rules_of(MARK_MASQ).unwrap_or_default().to_vec();
            lines += self.write_in_batches(std::mem::take(&mut own), mark_masq)?;
        }
        let mut ruleset = shared;
        for (chain, rules) in own.into_iter().flatten() {
            ruleset.nat.chain(&chain);
            for rule in rules {
                ruleset.nat.rule(&chain, rule);
            }
        }

        let mut input = String::new();
        let filter = ruleset.filter.restore_section(
            Table::Filter.name(),
            previous.as_ref().map(|p| &p.0),
            &BTreeSet::new(),
            &mut input,
        );
        let nat = ruleset.nat.restore_section(
            Table::Nat.name(),
            previous.as_ref().map(|p| &p.1),
            &stale,
            &mut input,
        );
        let written = filter.written + nat.written + nat.deleted;
        if written > 0 {
            self.ipt.restore(&input)?;
            lines += input.lines().count();
        }
        self.applied = Some(now_applied);
        let port_rules: usize = self.ports.values().map(|c| c.rules).sum();
        let port_chains: usize = self.ports.values().map(|c| c.chains.len()).sum();
        let stats = SyncStats {
            rules: ruleset_shared_rules(&ruleset) + port_rules,
            chains: port_chains + FILTER_CHAINS.len() + NAT_CHAINS.len(),
            elements: 0,
            transaction_lines: lines,
            duration: std::time::Duration::ZERO,
            phases: Default::default(),
        };
        tracing::debug!(
            chains_written = filter.written + nat.written,
            chains_deleted = nat.deleted,
            lines = stats.transaction_lines,
            "iptables synced"
        );
        Ok(stats)
    }
}

/// The rules of the shared chains in `ruleset` (which also holds the port chains written in
/// this sync, counted from the cache instead).
fn ruleset_shared_rules(ruleset: &Ruleset) -> usize {
    let shared = |t: &crate::ruleset::TableRules| -> usize {
        t.chains()
            .filter(|(c, _)| !is_service_chain(c))
            .map(|(_, r)| r.len())
            .sum()
    };
    shared(&ruleset.filter) + shared(&ruleset.nat)
}

fn cached(r: &PortRules) -> Cached {
    Cached {
        shared: r.shared.clone(),
        chains: r.chains.iter().map(|(c, _)| c.clone()).collect(),
        rules: r.chains.iter().map(|(_, rules)| rules.len()).sum(),
    }
}

/// How many KUBE-SEP chains `plan` makes for `family`: kube-proxy's measure of cluster size.
fn endpoint_chains(plan: &Plan, family: AddressFamily) -> usize {
    plan.ports()
        .filter(|p| p.key.family == family)
        .map(|p| p.reachable_endpoints().len())
        .sum()
}

/// The families a node serves: those of its addresses and cluster CIDRs, IPv4 if none.
fn node_families(node: &NodeInfo) -> Vec<AddressFamily> {
    let mut out: Vec<AddressFamily> = node
        .node_ips
        .iter()
        .copied()
        .chain(node.cluster_cidrs.iter().map(|c| c.addr()))
        .map(podnet_agent_proxy::family_of)
        .collect();
    out.sort();
    out.dedup();
    if out.is_empty() {
        out.push(AddressFamily::V4);
    }
    out
}

fn ipt_family(f: AddressFamily) -> Family {
    match f {
        AddressFamily::V4 => Family::V4,
        AddressFamily::V6 => Family::V6,
    }
}
