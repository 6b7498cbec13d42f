//! The seam between the mode-independent engine and each proxy mode.

use std::time::Duration;

use crate::error::Result;
use crate::node::NodeInfo;
use crate::plan::{Plan, PortChange};

/// Which kind of sync the engine asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncKind {
    /// Rewrite everything the mode owns from the plan (first sync, periodic resync, after a
    /// failure): repairs whatever was changed behind the proxy's back.
    Full,
    /// Change only what depends on `changes`.
    Partial,
}

/// What a sync did, for logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Rules (iptables rules, nftables rules) in the mode's tables after the sync.
    pub rules: usize,
    /// Elements of sets and maps (ipsets, nftables maps) after the sync.
    pub elements: usize,
    /// Chains after the sync.
    pub chains: usize,
    /// Lines of the transaction written to the kernel.
    pub transaction_lines: usize,
    pub duration: Duration,
    /// Where the time went (the phases a mode does not measure stay zero).
    pub phases: SyncPhases,
}

/// Where one sync's time went, phase by phase: what to optimise first, and what a slow sync
/// in the agent's log was waiting for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncPhases {
    /// The engine re-planning the dirty Services.
    pub plan: Duration,
    /// Reading back what the kernel holds (names of chains and sets, the generation).
    pub read: Duration,
    /// Rendering the plan into the mode's objects.
    pub render: Duration,
    /// Turning the desired objects into a transaction (the diff against what was applied).
    pub diff: Duration,
    /// Encoding the transaction for the kernel.
    pub encode: Duration,
    /// The kernel taking the transaction.
    pub kernel: Duration,
    /// Deleting stale conntrack entries.
    pub conntrack: Duration,
}

// === impl SyncPhases ===

impl SyncPhases {
    /// Adds `other`'s phases (one sync per address family).
    pub fn add(&mut self, other: &SyncPhases) {
        self.plan += other.plan;
        self.read += other.read;
        self.render += other.render;
        self.diff += other.diff;
        self.encode += other.encode;
        self.kernel += other.kernel;
        self.conntrack += other.conntrack;
    }
}

/// One proxy mode: renders the plan and applies it, one atomic transaction per sync.
///
/// The engine ([`crate::Engine`]) owns the plan and the conntrack clean-up; a backend only
/// turns the plan into kernel state.
pub trait Backend: Send {
    /// `nftables`, `iptables`, `ipvs`.
    fn mode(&self) -> &'static str;

    /// Brings the kernel in step with `plan`. With [`SyncKind::Partial`], `changes` lists
    /// every service port whose plan differs from the last successful sync; a backend may
    /// still do a full sync (and must, if it has not done one yet).
    fn sync(&mut self, plan: &Plan, changes: &[PortChange], kind: SyncKind) -> Result<SyncStats>;

    /// The node changed (addresses, zone): what the next sync renders from. The plan is
    /// re-made by the engine; a backend that keeps its own copy replaces it here.
    fn set_node(&mut self, _node: &NodeInfo) {}

    /// Removes everything this mode ever programmed in its namespace (switching modes, or
    /// `--proxy-mode none`). Idempotent.
    fn cleanup(&mut self) -> Result<()>;
}
