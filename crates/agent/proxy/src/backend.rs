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
