//! Desired table → kernel: the node's rendering diffed against what the last apply left
//! there, and only the difference applied, in one transaction (a new pod is set elements).
//!
//! Reading a big table back from the kernel costs far more than rendering and diffing it
//! (seconds at 1000 policies × 1000 pods), so [`Enforcer::sync`] diffs against the state it
//! applied last and reads the kernel only when it does not know what is there: the first
//! sync, after a failed apply, and on [`Enforcer::resync`] (the periodic full resync, which
//! also repairs changes made behind the agent's back).

use podnet_nft::object::{Table, TableId};
use podnet_nft::types::Family;
use podnet_nft::{Executor, TableDump, Transaction, diff};

use crate::cluster::Cluster;
use crate::error::Result;
use crate::render::{TABLE, render};

/// What one sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Operations applied (0: the kernel already matched).
    pub ops: usize,
    pub rules: usize,
    pub elements: usize,
    /// Whether the table was read back from the kernel (else diffed against the last apply).
    pub read_back: bool,
}

/// Keeps one node's policy table in step with the cluster, through any podnet-nft executor.
pub struct Enforcer<E> {
    executor: E,
    node: String,
    /// What the last successful apply left in the kernel; `None` when unknown (nothing
    /// applied yet, the last apply failed, or a resync was asked for).
    applied: Option<TableDump>,
}

// === impl Enforcer ===

impl<E: Executor> Enforcer<E> {
    pub fn new(executor: E, node: &str) -> Self {
        Self {
            executor,
            node: node.to_owned(),
            applied: None,
        }
    }

    /// What the table of this node should hold now (for debugging and `podnet trace`).
    pub fn desired(&self, cluster: &Cluster) -> Table {
        render(cluster, &self.node)
    }

    /// Renders, diffs against what the last apply left (or the kernel, when that is not
    /// known), applies the difference.
    pub fn sync(&mut self, cluster: &Cluster) -> Result<SyncReport> {
        let desired = self.desired(cluster);
        let (current, read_back) = match self.applied.take() {
            Some(applied) => (Some(applied), false),
            None => (self.executor.dump(&desired.id)?, true),
        };
        let tx = diff(current.as_ref(), &desired);
        if !tx.is_empty() {
            // On failure `applied` stays `None`: the next sync reads the kernel back.
            self.executor.execute(&tx)?;
        }
        self.applied = Some(TableDump::of(&desired));
        Ok(SyncReport {
            ops: tx.ops.len(),
            rules: desired.rule_count(),
            elements: desired.element_count(),
            read_back,
        })
    }

    /// A full resync: reads the kernel's table back and repairs whatever differs, changes
    /// made behind the agent's back included.
    pub fn resync(&mut self, cluster: &Cluster) -> Result<SyncReport> {
        self.applied = None;
        self.sync(cluster)
    }

    /// Removes the table (policy enforcement turned off); no error if it is not there.
    pub fn cleanup(&mut self) -> Result<()> {
        self.applied = None;
        let mut tx = Transaction::new(TableId::new(Family::Inet, TABLE));
        tx.add_table().delete_table();
        self.executor.execute(&tx)?;
        Ok(())
    }

    pub fn executor(&self) -> &E {
        &self.executor
    }
}
