//! The iptables mode's ruleset, rendered from the plan in kube-proxy's shape and names.
//!
//! ```text
//! nat    PREROUTING, OUTPUT ─▶ KUBE-SERVICES ─┬─ ClusterIP ─────────▶ KUBE-SVC-… (or KUBE-SVL-…)
//!                                             ├─ externalIP / LB IP ▶ KUBE-EXT-… (LB via KUBE-FW-…)
//!                                             └─ local dst (last) ──▶ KUBE-NODEPORTS ─▶ KUBE-EXT-…
//!        KUBE-SVC-… ─ statistic random 1/n, 1/(n-1)… (recent for ClientIP) ─▶ KUBE-SEP-… ─▶ DNAT
//!        POSTROUTING ─▶ KUBE-POSTROUTING: masquerade what carries mark 0x4000, clear the mark
//! filter INPUT, FORWARD, OUTPUT ─▶ KUBE-SERVICES / KUBE-EXTERNAL-SERVICES (REJECT, no endpoints;
//!        DROP, no local endpoints), KUBE-NODEPORTS (health checks), KUBE-PROXY-FIREWALL (LB
//!        source ranges), KUBE-FORWARD (accept marked and established forwarding)
//! ```
//!
//! [`render_port`] renders one service port: its contributions to the shared chains and its
//! own chains. [`Shared::assemble`] builds the shared chains from every port's contributions,
//! so a partial sync re-renders only the ports that changed.

mod port;
pub mod top;

use std::net::IpAddr;

use ipnet::IpNet;
use podnet_agent_proxy::{NodeInfo, NodePortAddresses};
use podnet_k8s_model::AddressFamily;

pub use port::{PortRules, render_port};
pub use top::{JumpRule, Shared, jump_rules};

/// kube-proxy's default `--iptables-masquerade-bit`: mark 0x4000.
pub const DEFAULT_MASQUERADE_BIT: u8 = 14;

/// Past this many endpoint chains, per-endpoint comments are left out (kube-proxy's "large
/// cluster mode": the ruleset is ~40% smaller and restores faster).
pub const LARGE_CLUSTER_ENDPOINTS: usize = 1000;

/// How the mode renders, beyond the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderConfig {
    pub family: AddressFamily,
    /// `--masquerade-all`: masquerade every ClusterIP connection, not only those from
    /// outside the cluster CIDR.
    pub masquerade_all: bool,
    pub masquerade_bit: u8,
    /// Where NodePorts answer (kube-proxy's iptables default: every local address but
    /// loopback).
    pub node_port_addresses: NodePortAddresses,
    /// `nf_conntrack_tcp_be_liberal` is set: no DROP of INVALID packets in KUBE-FORWARD.
    pub conntrack_tcp_liberal: bool,
}

/// Everything a port's rendering depends on besides the port itself.
#[derive(Clone, Debug)]
pub struct Context {
    pub config: RenderConfig,
    /// The cluster CIDR of this family: traffic from outside it to a ClusterIP is
    /// masqueraded, traffic from inside it to an external address of an ETP Local service
    /// short-circuits to the cluster endpoints. `None`: neither (kube-proxy without a local
    /// traffic detector).
    pub cluster_cidr: Option<IpNet>,
    /// This node's address of this family (LB source ranges that include it also admit
    /// the LB IPs as sources: traffic from the node to its own LB IP).
    pub node_ip: Option<IpAddr>,
    /// Leave per-endpoint comments out.
    pub large_cluster: bool,
}

// === impl RenderConfig ===

impl RenderConfig {
    /// kube-proxy's iptables defaults for `family`.
    pub fn new(family: AddressFamily) -> Self {
        Self {
            family,
            masquerade_all: false,
            masquerade_bit: DEFAULT_MASQUERADE_BIT,
            node_port_addresses: NodePortAddresses::AllLocal,
            conntrack_tcp_liberal: false,
        }
    }

    /// `0x4000` for bit 14, as kube-proxy's rules show it.
    pub fn mark(&self) -> String {
        format!("{:#x}", 1u32 << self.masquerade_bit)
    }
}

// === impl Context ===

impl Context {
    pub fn new(config: RenderConfig, node: &NodeInfo, large_cluster: bool) -> Self {
        // kube-proxy's cluster-CIDR traffic detector takes one CIDR per family.
        let cluster_cidr = node.cluster_cidrs(config.family).next().copied();
        let node_ip = node.node_ip(config.family);
        Self {
            config,
            cluster_cidr,
            node_ip,
            large_cluster,
        }
    }
}
