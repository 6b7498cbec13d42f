//! Desired table → kernel: the node's rendering diffed against what the executor holds,
//! and only the difference applied, in one transaction (a new pod is set elements).

use podnet_nft::object::{Table, TableId};
use podnet_nft::types::Family;
use podnet_nft::{Executor, Transaction, diff};

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
}

/// Keeps one node's policy table in step with the cluster, through any podnet-nft executor.
pub struct Enforcer<E> {
    executor: E,
    node: String,
}

// === impl Enforcer ===

impl<E: Executor> Enforcer<E> {
    pub fn new(executor: E, node: &str) -> Self {
        Self {
            executor,
            node: node.to_owned(),
        }
    }

    /// What the table of this node should hold now (for debugging and `podnet trace`).
    pub fn desired(&self, cluster: &Cluster) -> Table {
        render(cluster, &self.node)
    }

    /// Renders, diffs against the executor's table, applies the difference.
    pub fn sync(&mut self, cluster: &Cluster) -> Result<SyncReport> {
        let desired = self.desired(cluster);
        let current = self.executor.dump(&desired.id)?;
        let tx = diff(current.as_ref(), &desired);
        if !tx.is_empty() {
            self.executor.execute(&tx)?;
        }
        Ok(SyncReport {
            ops: tx.ops.len(),
            rules: desired.rule_count(),
            elements: desired.element_count(),
        })
    }

    /// Removes the table (policy enforcement turned off); no error if it is not there.
    pub fn cleanup(&mut self) -> Result<()> {
        let mut tx = Transaction::new(TableId::new(Family::Inet, TABLE));
        tx.add_table().delete_table();
        self.executor.execute(&tx)?;
        Ok(())
    }

    pub fn executor(&self) -> &E {
        &self.executor
    }
}
