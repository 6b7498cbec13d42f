//! The shared chains: kube-proxy's top-level chains, the jumps into them from the built-in
//! chains, and the assembly of every port's contributions.

use podnet_agent_proxy::NodePortAddresses;
use podnet_iptables::Table;
use podnet_k8s_model::AddressFamily;

use super::RenderConfig;
use crate::ruleset::Ruleset;

pub const SERVICES: &str = "KUBE-SERVICES";
pub const EXTERNAL_SERVICES: &str = "KUBE-EXTERNAL-SERVICES";
pub const NODEPORTS: &str = "KUBE-NODEPORTS";
pub const POSTROUTING: &str = "KUBE-POSTROUTING";
pub const MARK_MASQ: &str = "KUBE-MARK-MASQ";
pub const FORWARD: &str = "KUBE-FORWARD";
pub const PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";

/// The filter table's top-level chains, in kube-proxy's order.
pub const FILTER_CHAINS: [&str; 5] = [
    SERVICES,
    EXTERNAL_SERVICES,
    FORWARD,
    NODEPORTS,
    PROXY_FIREWALL,
];
/// The nat table's top-level chains, in kube-proxy's order.
pub const NAT_CHAINS: [&str; 4] = [SERVICES, NODEPORTS, POSTROUTING, MARK_MASQ];

/// One port's rules in the shared chains (the text after `-A CHAIN `).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shared {
    pub nat_services: Vec<String>,
    pub nat_nodeports: Vec<String>,
    pub filter_services: Vec<String>,
    pub filter_external: Vec<String>,
    pub filter_nodeports: Vec<String>,
    pub filter_firewall: Vec<String>,
}

/// A jump from a built-in chain into one of ours. These cannot be part of a `--noflush`
/// restore without owning the whole built-in chain, so they are ensured one by one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpRule {
    pub table: Table,
    pub from: &'static str,
    pub to: &'static str,
    /// The rule's arguments, as `iptables -C/-I` take them.
    pub args: Vec<String>,
}

/// kube-proxy's jumps from the built-in chains, in the order it ensures them.
pub fn jump_rules() -> Vec<JumpRule> {
    use Table::{Filter, Nat};
    let portals = "kubernetes service portals";
    let external = "kubernetes externally-visible service portals";
    let firewall = "kubernetes load balancer firewall";
    vec![
        JumpRule::new(Filter, "INPUT", EXTERNAL_SERVICES, external, true),
        JumpRule::new(Filter, "FORWARD", EXTERNAL_SERVICES, external, true),
        JumpRule::new(
            Filter,
            "INPUT",
            NODEPORTS,
            "kubernetes health check service ports",
            false,
        ),
        JumpRule::new(Filter, "FORWARD", SERVICES, portals, true),
        JumpRule::new(Filter, "OUTPUT", SERVICES, portals, true),
        JumpRule::new(
            Filter,
            "FORWARD",
            FORWARD,
            "kubernetes forwarding rules",
            false,
        ),
        JumpRule::new(Filter, "INPUT", PROXY_FIREWALL, firewall, true),
        JumpRule::new(Filter, "OUTPUT", PROXY_FIREWALL, firewall, true),
        JumpRule::new(Filter, "FORWARD", PROXY_FIREWALL, firewall, true),
        JumpRule::new(Nat, "OUTPUT", SERVICES, portals, false),
        JumpRule::new(Nat, "PREROUTING", SERVICES, portals, false),
        JumpRule::new(
            Nat,
            "POSTROUTING",
            POSTROUTING,
            "kubernetes postrouting rules",
            false,
        ),
    ]
}

// === impl JumpRule ===

impl JumpRule {
    /// `-A FROM [-m conntrack --ctstate NEW] -m comment --comment COMMENT -j TO` in `table`.
    pub fn new(
        table: Table,
        from: &'static str,
        to: &'static str,
        comment: &str,
        new_only: bool,
    ) -> Self {
        let mut args: Vec<String> = Vec::new();
        if new_only {
            args.extend(["-m", "conntrack", "--ctstate", "NEW"].map(str::to_owned));
        }
        args.extend(["-m", "comment", "--comment", comment, "-j", to].map(str::to_owned));
        Self {
            table,
            from,
            to,
            args,
        }
    }
}

// === impl Shared ===

impl Shared {
    /// The shared chains of both tables, filled from every port's contributions (`ports`, in
    /// the order their rules should appear) and the static rules.
    pub fn assemble<'a>(config: &RenderConfig, ports: impl Iterator<Item = &'a Shared>) -> Ruleset {
        let mut rs = Ruleset::default();
        for chain in FILTER_CHAINS {
            rs.filter.chain(chain);
        }
        for chain in NAT_CHAINS {
            rs.nat.chain(chain);
        }
        let mark = config.mark();
        rs.nat.rule(
            POSTROUTING,
            format!("-m mark ! --mark {mark}/{mark} -j RETURN"),
        );
        // Clear the mark, so a packet that traverses the stack again is not masqueraded twice.
        rs.nat
            .rule(POSTROUTING, format!("-j MARK --xor-mark {mark}"));
        rs.nat.rule(
            POSTROUTING,
            "-m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
                .to_owned(),
        );
        rs.nat.rule(MARK_MASQ, format!("-j MARK --or-mark {mark}"));

        for p in ports {
            for (chain, rules) in [(SERVICES, &p.nat_services), (NODEPORTS, &p.nat_nodeports)] {
                for r in rules {
                    rs.nat.rule(chain, r.clone());
                }
            }
            for (chain, rules) in [
                (SERVICES, &p.filter_services),
                (EXTERNAL_SERVICES, &p.filter_external),
                (NODEPORTS, &p.filter_nodeports),
                (PROXY_FIREWALL, &p.filter_firewall),
            ] {
                for r in rules {
                    rs.filter.rule(chain, r.clone());
                }
            }
        }

        // NodePorts last: after every service's own addresses.
        let comment = "-m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
        match &config.node_port_addresses {
            NodePortAddresses::AllLocal => {
                let loopback = match config.family {
                    AddressFamily::V4 => "127.0.0.0/8",
                    AddressFamily::V6 => "::1/128",
                };
                rs.nat.rule(
                    SERVICES,
                    format!(
                        "{comment} -m addrtype --dst-type LOCAL ! -d {loopback} -j {NODEPORTS}"
                    ),
                );
            }
            NodePortAddresses::Only(ips) => {
                for ip in ips.iter().filter(|ip| !ip.is_loopback()) {
                    let len = if ip.is_ipv4() { 32 } else { 128 };
                    rs.nat
                        .rule(SERVICES, format!("{comment} -d {ip}/{len} -j {NODEPORTS}"));
                }
            }
        }

        // Packets conntrack thinks INVALID (out of window) would be delivered un-NATed and
        // reset the connection (kubernetes#74839): drop them, unless conntrack is liberal.
        if !config.conntrack_tcp_liberal {
            rs.filter
                .rule(FORWARD, "-m conntrack --ctstate INVALID -j DROP".to_owned());
        }
        // Forward what the proxy marked (NodePort traffic) and its replies, whatever the
        // FORWARD chain's policy.
        rs.filter.rule(
            FORWARD,
            format!("-m comment --comment \"kubernetes forwarding rules\" -m mark --mark {mark}/{mark} -j ACCEPT"),
        );
        rs.filter.rule(
            FORWARD,
            "-m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
                .to_owned(),
        );
        rs
    }
}
