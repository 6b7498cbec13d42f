//! The mode-independent sync loop body: dirty Services → plan changes → one backend sync →
//! conntrack clean-up. The agent calls [`Engine::sync`] on change and on a timer.

use std::time::{Duration, Instant};

use podnet_conntrack::Conntrack;

use crate::backend::{Backend, SyncKind, SyncStats};
use crate::error::Result;
use crate::node::NodeInfo;
use crate::plan::{HealthCheck, Plan, PortChange};
use crate::stale::stale_flows;
use crate::state::ServiceState;

/// Owns the state, the plan and the backend of one proxy.
pub struct Engine {
    node: NodeInfo,
    state: ServiceState,
    plan: Plan,
    backend: Box<dyn Backend>,
    conntrack: Conntrack,
    /// Changes planned but not yet applied (a failed sync keeps them for the next one).
    pending: Vec<PortChange>,
    /// Whether the next sync must be full (first one, or after a failure).
    need_full: bool,
}

/// What one [`Engine::sync`] did.
#[derive(Clone, Debug)]
pub struct SyncReport {
    pub kind: SyncKind,
    pub changed_ports: usize,
    pub stats: SyncStats,
    pub conntrack_deleted: u64,
    pub duration: Duration,
}

// === impl Engine ===

impl Engine {
    pub fn new(node: NodeInfo, backend: Box<dyn Backend>, conntrack: Conntrack) -> Self {
        Self {
            node,
            state: ServiceState::default(),
            plan: Plan::default(),
            backend,
            conntrack,
            pending: Vec::new(),
            need_full: true,
        }
    }

    pub fn mode(&self) -> &'static str {
        self.backend.mode()
    }

    /// The Services and EndpointSlices; edit them, then [`Engine::sync`].
    pub fn state_mut(&mut self) -> &mut ServiceState {
        &mut self.state
    }

    pub fn state(&self) -> &ServiceState {
        &self.state
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn node(&self) -> &NodeInfo {
        &self.node
    }

    /// Replaces what the proxy knows about its node (labels, addresses): every Service is
    /// re-planned at the next sync.
    pub fn set_node(&mut self, node: NodeInfo) {
        if node != self.node {
            self.backend.set_node(&node);
            self.node = node;
            self.state.mark_all_dirty();
            // Rendering reads the node too (cluster CIDRs, node IPs): rewrite everything.
            self.need_full = true;
        }
    }

    pub fn health_checks(&self) -> Vec<HealthCheck> {
        self.plan.health_checks(&self.node)
    }

    /// Plans the dirty Services and applies the result: `full` rewrites everything (and is
    /// forced for the first sync and after a failed one).
    pub fn sync(&mut self, full: bool) -> Result<SyncReport> {
        let start = Instant::now();
        let dirty = self.state.take_dirty();
        let changes = self.plan.update(&self.state, &self.node, &dirty);
        self.pending.extend(changes);
        let plan_time = start.elapsed();
        let kind = if full || self.need_full {
            SyncKind::Full
        } else {
            SyncKind::Partial
        };
        if kind == SyncKind::Partial && self.pending.is_empty() {
            return Ok(SyncReport {
                kind,
                changed_ports: 0,
                stats: SyncStats::default(),
                conntrack_deleted: 0,
                duration: start.elapsed(),
            });
        }
        let mut stats = match self.backend.sync(&self.plan, &self.pending, kind) {
            Ok(stats) => stats,
            Err(e) => {
                self.need_full = true;
                return Err(e);
            }
        };
        self.need_full = false;
        let applied = std::mem::take(&mut self.pending);
        // After the rules changed: entries created from now on already follow them.
        let conntrack_start = Instant::now();
        let mut deleted = 0;
        for change in &applied {
            for filter in stale_flows(change) {
                match self.conntrack.delete(&filter) {
                    Ok(n) => deleted += n,
                    Err(error) => tracing::warn!(%error, "flushing stale conntrack entries"),
                }
            }
        }
        stats.phases.plan = plan_time;
        stats.phases.conntrack = conntrack_start.elapsed();
        Ok(SyncReport {
            kind,
            changed_ports: applied.len(),
            stats,
            conntrack_deleted: deleted,
            duration: start.elapsed(),
        })
    }

    /// Removes this mode's rules (on `--proxy-mode none`, or before another mode starts).
    pub fn cleanup(&mut self) -> Result<()> {
        self.need_full = true;
        self.backend.cleanup()
    }
}
