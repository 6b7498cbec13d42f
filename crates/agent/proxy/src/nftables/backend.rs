//! The nftables mode's [`Backend`]: one podnet-nft transaction per sync and family, applied
//! by podnet-nft's netlink executor (one nf_tables batch, no `nft` process). A periodic
//! full resync in which nothing changed asks the kernel whether anything was committed
//! since our last batch (its nftables generation) and writes nothing if not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use podnet_k8s_model::AddressFamily;
use podnet_nft::netlink::NetlinkReader;
use podnet_nft::types::Family;
use podnet_nft::{Executor, NetlinkExecutor, TableId, Transaction};

use super::render::{TABLE, nft_family, render, render_port, skeleton};
use super::ruleset::{Applied, AppliedPort, Desired};
use super::transaction::{self, Existing};
use crate::backend::{Backend, SyncKind, SyncPhases, SyncStats};
use crate::error::Result;
use crate::node::{NodeInfo, NodePortAddressConfig};
use crate::plan::{Plan, PortChange};

/// nftables mode in one network namespace (`None`: the agent's own).
pub struct NftBackend {
    nft: NetlinkExecutor,
    reader: NetlinkReader,
    node: NodeInfo,
    node_ports: NodePortAddressConfig,
    /// What the last successful sync applied, per family.
    applied: BTreeMap<AddressFamily, Applied>,
}

// === impl NftBackend ===

impl NftBackend {
    pub fn new(netns: Option<&Path>, node: NodeInfo, node_ports: NodePortAddressConfig) -> Self {
        Self {
            nft: NetlinkExecutor::new(netns),
            reader: NetlinkReader::new(netns),
            node,
            node_ports,
            applied: BTreeMap::new(),
        }
    }

    /// The families to program: IPv4 always, IPv6 when the node or a Service has it.
    fn families(&self, plan: &Plan) -> Vec<AddressFamily> {
        let v6 = self.node.node_ip(AddressFamily::V6).is_some()
            || plan.ports().any(|p| p.key.family == AddressFamily::V6);
        if v6 {
            vec![AddressFamily::V4, AddressFamily::V6]
        } else {
            vec![AddressFamily::V4]
        }
    }

    /// The desired table of `family`, as the next full sync would write it (for golden
    /// tests and debugging).
    pub fn desired(&self, plan: &Plan, family: AddressFamily) -> Desired {
        let np = self
            .node_ports
            .resolve(family, &self.node, &self.node.node_ips);
        render(plan, &self.node, family, &np)
    }

    /// The chains and sets the kernel's table holds, read over netlink (names only).
    fn existing(&self, family: Family) -> Result<Existing> {
        let names = self
            .reader
            .names(&TableId::new(family, TABLE))?
            .unwrap_or_default();
        Ok(Existing {
            chains: names.chains,
            sets: names.sets,
        })
    }

    /// Whether the kernel still holds what the last sync of `family` applied: nothing was
    /// committed to nftables since our last batch (the kernel counts every commit, by anyone,
    /// in its generation). Anything else committed since — a rule flushed behind our back,
    /// or another table's change — and the resync rewrites, as it always did.
    fn kernel_holds_applied(&self, family: AddressFamily) -> Result<bool> {
        if !self.applied.contains_key(&family) {
            return Ok(false);
        }
        Ok(self.nft.applied_generation() == Some(self.nft.generation()?))
    }

    /// Applies `tx` and counts its encoding and the kernel's share in `phases`.
    fn execute(&mut self, tx: &Transaction, phases: &mut SyncPhases) -> Result<()> {
        let result = self.nft.execute(tx);
        let batch = self.nft.last_batch();
        phases.encode += batch.encode;
        phases.kernel += batch.kernel;
        result.map_err(Into::into)
    }

    fn sync_family(
        &mut self,
        plan: &Plan,
        changes: &[PortChange],
        kind: SyncKind,
        family: AddressFamily,
        phases: &mut SyncPhases,
    ) -> Result<usize> {
        let fam = nft_family(family);
        let np = self
            .node_ports
            .resolve(family, &self.node, &self.node.node_ips);
        let skel = skeleton(family, &np);
        let same_skeleton = self
            .applied
            .get(&family)
            .is_some_and(|d| d.skeleton == skel);
        let unchanged = same_skeleton && changes.iter().all(|c| c.key.family != family);
        if kind == SyncKind::Full && unchanged {
            let t = Instant::now();
            let holds = self.kernel_holds_applied(family)?;
            phases.read += t.elapsed();
            if holds {
                // A periodic resync in which nothing changed: what was applied is what the
                // plan renders (partial syncs keep it so), and the kernel still holds it.
                return Ok(0);
            }
        }
        if !(kind == SyncKind::Partial && same_skeleton) {
            let t = Instant::now();
            let desired = render(plan, &self.node, family, &np);
            phases.render += t.elapsed();
            let t = Instant::now();
            let existing = self.existing(fam)?;
            phases.read += t.elapsed();
            let t = Instant::now();
            let applied = Applied::of(&desired);
            let tx = transaction::full(desired, &existing);
            phases.diff += t.elapsed();
            self.execute(&tx, phases)?;
            self.applied.insert(family, applied);
            return Ok(tx.ops.len());
        }
        let keys: BTreeSet<_> = changes
            .iter()
            .map(|c| &c.key)
            .filter(|k| k.family == family)
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let t = Instant::now();
        let mut new = BTreeMap::new();
        for k in &keys {
            if let Some(p) = plan.port(k) {
                new.insert((*k).clone(), render_port(p, &self.node));
            }
        }
        phases.render += t.elapsed();
        let t = Instant::now();
        let applied = self.applied.get(&family).expect("checked above");
        let tx = transaction::partial(fam, &applied.ports, &new, &keys);
        phases.diff += t.elapsed();
        self.execute(&tx, phases)?;
        let applied = self.applied.get_mut(&family).expect("checked above");
        for k in keys {
            match new.remove(k) {
                Some(objs) => applied.ports.insert(k.clone(), AppliedPort::of(&objs)),
                None => applied.ports.remove(k),
            };
        }
        // One op is one line of the `nft -f` script.
        Ok(tx.ops.len())
    }
}

impl Backend for NftBackend {
    fn mode(&self) -> &'static str {
        "nftables"
    }

    fn sync(&mut self, plan: &Plan, changes: &[PortChange], kind: SyncKind) -> Result<SyncStats> {
        let start = Instant::now();
        let mut stats = SyncStats::default();
        for family in self.families(plan) {
            let result = self.sync_family(plan, changes, kind, family, &mut stats.phases);
            if result.is_err() {
                // Unknown kernel state: the next sync starts from scratch.
                self.applied.remove(&family);
            }
            stats.transaction_lines += result?;
        }
        for d in self.applied.values() {
            stats.rules += d.rule_count();
            stats.elements += d.element_count();
            stats.chains += d.chain_count();
        }
        stats.duration = start.elapsed();
        Ok(stats)
    }

    fn set_node(&mut self, node: &NodeInfo) {
        // A changed node IP changes the skeleton (nodeport-ips): the next sync is full.
        self.node = node.clone();
    }

    fn cleanup(&mut self) -> Result<()> {
        self.applied.clear();
        cleanup_in(&self.nft)
    }
}

/// Deletes `table ip kube-proxy` and `table ip6 kube-proxy` in `netns` if they exist
/// (switching to another mode, or `--proxy-mode none`).
pub fn cleanup(netns: Option<&Path>) -> Result<()> {
    cleanup_in(&NetlinkExecutor::new(netns))
}

fn cleanup_in(nft: &NetlinkExecutor) -> Result<()> {
    // add-then-delete: never fails on a missing table (kube-proxy's idiom).
    for family in [Family::Ip, Family::Ip6] {
        let mut tx = Transaction::new(TableId::new(family, TABLE));
        tx.add_table().delete_table();
        nft.clone().execute(&tx)?;
    }
    Ok(())
}
