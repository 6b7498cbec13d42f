//! The ipvs mode's iptables rules: one per non-empty ipset, as kube-proxy's ipvs proxier
//! writes them, and the jumps into them from the built-in chains.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;
use podnet_iptables::{Iptables, Table};

use super::IpvsConfig;
use super::sets::SetName;
use crate::cleanup::remove_chains;
use crate::error::Result;
use crate::render::top::JumpRule;
use crate::ruleset::Ruleset;

const SERVICES: &str = "KUBE-SERVICES";
const POSTROUTING: &str = "KUBE-POSTROUTING";
const NODE_PORT: &str = "KUBE-NODE-PORT";
const LOAD_BALANCER: &str = "KUBE-LOAD-BALANCER";
const MARK_MASQ: &str = "KUBE-MARK-MASQ";
const FORWARD: &str = "KUBE-FORWARD";
const PROXY_FIREWALL: &str = "KUBE-PROXY-FIREWALL";
const SOURCE_RANGES_FIREWALL: &str = "KUBE-SOURCE-RANGES-FIREWALL";

const NAT_CHAINS: [&str; 5] = [SERVICES, POSTROUTING, NODE_PORT, LOAD_BALANCER, MARK_MASQ];
const FILTER_CHAINS: [&str; 4] = [FORWARD, NODE_PORT, PROXY_FIREWALL, SOURCE_RANGES_FIREWALL];

/// A rule that sends what matches a set somewhere (kube-proxy's `ipsetWithIptablesChain`).
struct SetJump {
    set: SetName,
    table: Table,
    from: &'static str,
    to: &'static str,
    /// How entries are matched: `dst`, `dst,dst`, `dst,dst,src`.
    how: &'static str,
    protocol: Option<&'static str>,
}

const fn jump(
    set: SetName,
    table: Table,
    from: &'static str,
    to: &'static str,
    how: &'static str,
    protocol: Option<&'static str>,
) -> SetJump {
    SetJump {
        set,
        table,
        from,
        to,
        how,
        protocol,
    }
}

/// In kube-proxy's order: each Local set before its general one, so RETURN comes first.
const SET_JUMPS: [SetJump; 12] = [
    jump(
        SetName::LoopBack,
        Table::Nat,
        POSTROUTING,
        "MASQUERADE",
        "dst,dst,src",
        None,
    ),
    jump(
        SetName::LoadBalancer,
        Table::Nat,
        SERVICES,
        LOAD_BALANCER,
        "dst,dst",
        None,
    ),
    jump(
        SetName::LoadBalancerLocal,
        Table::Nat,
        LOAD_BALANCER,
        "RETURN",
        "dst,dst",
        None,
    ),
    jump(
        SetName::NodePortLocalTcp,
        Table::Nat,
        NODE_PORT,
        "RETURN",
        "dst",
        Some("tcp"),
    ),
    jump(
        SetName::NodePortTcp,
        Table::Nat,
        NODE_PORT,
        MARK_MASQ,
        "dst",
        Some("tcp"),
    ),
    jump(
        SetName::NodePortLocalUdp,
        Table::Nat,
        NODE_PORT,
        "RETURN",
        "dst",
        Some("udp"),
    ),
    jump(
        SetName::NodePortUdp,
        Table::Nat,
        NODE_PORT,
        MARK_MASQ,
        "dst",
        Some("udp"),
    ),
    jump(
        SetName::NodePortLocalSctp,
        Table::Nat,
        NODE_PORT,
        "RETURN",
        "dst,dst",
        Some("sctp"),
    ),
    jump(
        SetName::NodePortSctp,
        Table::Nat,
        NODE_PORT,
        MARK_MASQ,
        "dst,dst",
        Some("sctp"),
    ),
    jump(
        SetName::LoadBalancerFw,
        Table::Filter,
        PROXY_FIREWALL,
        SOURCE_RANGES_FIREWALL,
        "dst,dst",
        None,
    ),
    jump(
        SetName::LoadBalancerSourceCidr,
        Table::Filter,
        SOURCE_RANGES_FIREWALL,
        "RETURN",
        "dst,dst,src",
        None,
    ),
    jump(
        SetName::LoadBalancerSourceIp,
        Table::Filter,
        SOURCE_RANGES_FIREWALL,
        "RETURN",
        "dst,dst,src",
        None,
    ),
];

/// The iptables half, as kube-proxy's ipvs proxier writes it: a rule per non-empty set.
pub(super) fn iptables_rules(
    config: &IpvsConfig,
    cluster_cidr: Option<IpNet>,
    sets: &BTreeMap<SetName, BTreeSet<String>>,
) -> Ruleset {
    let family = config.family;
    let has = |s: SetName| sets.get(&s).is_some_and(|e| !e.is_empty());
    let matching = |s: SetName, how: &str| {
        format!(
            "-m comment --comment \"{}\" -m set --match-set {} {how}",
            s.comment(),
            s.name(family)
        )
    };
    let mark = format!("{:#x}", 1u32 << config.masquerade_bit);
    let mut rs = Ruleset::default();
    for c in NAT_CHAINS {
        rs.nat.chain(c);
    }
    for c in FILTER_CHAINS {
        rs.filter.chain(c);
    }

    for j in &SET_JUMPS {
        if !has(j.set) {
            continue;
        }
        let p = j.protocol.map(|p| format!("-p {p} ")).unwrap_or_default();
        let rule = format!("{p}{} -j {}", matching(j.set, j.how), j.to);
        match j.table {
            Table::Filter => rs.filter.rule(j.from, rule),
            _ => rs.nat.rule(j.from, rule),
        }
    }

    if has(SetName::ClusterIp) {
        let m = matching(SetName::ClusterIp, "dst,dst");
        let rule = if config.masquerade_all {
            format!("{m} -j {MARK_MASQ}")
        } else if let Some(cidr) = cluster_cidr {
            format!("{m} ! -s {cidr} -j {MARK_MASQ}")
        } else {
            // No way to tell pods from elsewhere: masquerade the node's own connections,
            // whose source would otherwise be a VIP on kube-ipvs0.
            format!(
                "-m comment --comment \"{}\" -m set --match-set {} src,dst -j {MARK_MASQ}",
                SetName::ClusterIp.comment(),
                SetName::ClusterIp.name(family)
            )
        };
        rs.nat.rule(SERVICES, rule);
    }
    for (set, masq) in [
        (SetName::ExternalIp, true),
        (SetName::ExternalIpLocal, false),
    ] {
        if !has(set) {
            continue;
        }
        let m = matching(set, "dst,dst");
        if masq {
            rs.nat.rule(SERVICES, format!("{m} -j {MARK_MASQ}"));
        }
        // Traffic from off the machine (not from a bridge port, not local) and traffic to
        // external IPs that are local addresses stays with IPVS.
        rs.nat.rule(
            SERVICES,
            format!("{m} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT"),
        );
        rs.nat.rule(
            SERVICES,
            format!("{m} -m addrtype --dst-type LOCAL -j ACCEPT"),
        );
    }
    rs.nat.rule(
        SERVICES,
        format!("-m addrtype --dst-type LOCAL -j {NODE_PORT}"),
    );
    rs.nat.rule(LOAD_BALANCER, format!("-j {MARK_MASQ}"));
    rs.filter.rule(SOURCE_RANGES_FIREWALL, "-j DROP".to_owned());
    for set in [SetName::ClusterIp, SetName::LoadBalancer] {
        if has(set) {
            rs.nat.rule(
                SERVICES,
                format!("-m set --match-set {} dst,dst -j ACCEPT", set.name(family)),
            );
        }
    }
    rs.filter.rule(
        FORWARD,
        format!("-m comment --comment \"kubernetes forwarding rules\" -m mark --mark {mark}/{mark} -j ACCEPT"),
    );
    rs.filter.rule(
        FORWARD,
        "-m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            .to_owned(),
    );
    if has(SetName::HealthCheckNodePort) {
        rs.filter.rule(
            NODE_PORT,
            format!(
                "{} -j ACCEPT",
                matching(SetName::HealthCheckNodePort, "dst")
            ),
        );
    }
    rs.nat.rule(
        POSTROUTING,
        format!("-m mark ! --mark {mark}/{mark} -j RETURN"),
    );
    rs.nat
        .rule(POSTROUTING, format!("-j MARK --xor-mark {mark}"));
    rs.nat.rule(
        POSTROUTING,
        "-m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
            .to_owned(),
    );
    rs.nat.rule(MARK_MASQ, format!("-j MARK --or-mark {mark}"));
    rs
}

/// kube-proxy's ipvs jumps from the built-in chains.
pub(crate) fn jump_rules() -> Vec<JumpRule> {
    use Table::{Filter, Nat};
    vec![
        JumpRule::new(Nat, "OUTPUT", SERVICES, "kubernetes service portals", false),
        JumpRule::new(
            Nat,
            "PREROUTING",
            SERVICES,
            "kubernetes service portals",
            false,
        ),
        JumpRule::new(
            Nat,
            "POSTROUTING",
            POSTROUTING,
            "kubernetes postrouting rules",
            false,
        ),
        JumpRule::new(
            Filter,
            "FORWARD",
            FORWARD,
            "kubernetes forwarding rules",
            false,
        ),
        JumpRule::new(
            Filter,
            "INPUT",
            NODE_PORT,
            "kubernetes health check rules",
            false,
        ),
        JumpRule::new(
            Filter,
            "INPUT",
            PROXY_FIREWALL,
            "kube-proxy firewall rules",
            false,
        ),
        JumpRule::new(
            Filter,
            "FORWARD",
            PROXY_FIREWALL,
            "kube-proxy firewall rules",
            false,
        ),
    ]
}

/// Removes the ipvs mode's jumps and chains from one family and backend.
pub(crate) fn cleanup_chains(ipt: &Iptables) -> Result<()> {
    remove_chains(ipt, &jump_rules(), &FILTER_CHAINS, &NAT_CHAINS, |_| false)
}
