//! One reconcile of one node: Nodes → desired → diff → apply, routing and egress.

use podnet_k8s_model::NodeRoute;

use crate::config::Config;
use crate::desired::{Desired, desired, own_ip};
use crate::egress::Egress;
use crate::error::Result;
use crate::kernel::Kernel;
use crate::plan::plan;

/// Reconciles a node's kernel with the cluster's Nodes.
#[derive(Debug)]
pub struct Reconciler {
    cfg: Config,
    kernel: Kernel,
}

/// What one reconcile did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Kernel changes made (0: the kernel already matched).
    pub changes: usize,
    pub desired: Desired,
}

// === impl Reconciler ===

impl Reconciler {
    pub fn new(cfg: Config, kernel: Kernel) -> Self {
        Self { cfg, kernel }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Brings the kernel to the state `nodes` call for, changing only what differs.
    /// `nodes` must be the complete set (never a partial initial list).
    pub async fn reconcile(&mut self, nodes: &[NodeRoute]) -> Result<Outcome> {
        let ip = own_ip(&self.cfg, nodes)?;
        let local = self.kernel.local(&self.cfg.node, ip).await?;
        let want = desired(&self.cfg, &local, nodes);
        let mut changes = self.kernel.ensure_device(want.vxlan.as_ref()).await?;
        let observed = self.kernel.observe().await?;
        let plan = plan(&want, &observed);
        if !plan.is_empty() {
            tracing::debug!(plan = %plan, "routing changes");
            self.kernel.apply(&plan).await?;
            changes += plan.len();
        }
        changes += self.reconcile_egress(&want.egress).await?;
        Ok(Outcome {
            changes,
            desired: want,
        })
    }

    /// The egress table is read back and diffed every time: a change made behind the agent's
    /// back is repaired, and a restarted agent adopts a table that is already right.
    async fn reconcile_egress(&mut self, want: &Egress) -> Result<usize> {
        Ok(usize::from(self.kernel.sync_egress(want).await?))
    }
}
