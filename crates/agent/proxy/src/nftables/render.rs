//! Plan → desired nftables state (pure). kube-proxy's table, chain, map and set names and
//! rule shapes, except the endpoint pick: a cascade of plain rules
//! (`numgen random mod N-i 0 goto endpoint-i`) instead of one anonymous vmap per service.

use std::net::IpAddr;

use podnet_k8s_model::AddressFamily;

use super::names::{ChainNames, endpoint_chain_base};
use super::ruleset::{AffinitySet, Chain, Desired, Element, PortObjects, Skeleton};
use crate::node::{NodeInfo, NodePortAddresses};
use crate::plan::{Plan, PortPlan, Target};

pub const TABLE: &str = "kube-proxy";
/// kube-proxy's masquerade mark (bit 14).
pub const MASQ_MARK: &str = "0x00004000";

pub const SERVICE_IPS: &str = "service-ips";
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub const FIREWALL_IPS: &str = "firewall-ips";
pub const CLUSTER_IPS: &str = "cluster-ips";
pub const NODEPORT_IPS: &str = "nodeport-ips";
const REJECT_CHAIN: &str = "reject-chain";
const MARK_MASQ: &str = "mark-for-masquerade";

/// The nft family keyword of `family`.
pub fn nft_family(family: AddressFamily) -> &'static str {
    match family {
        AddressFamily::V4 => "ip",
        AddressFamily::V6 => "ip6",
    }
}

/// The whole desired table of `family`.
pub fn render(
    plan: &Plan,
    node: &NodeInfo,
    family: AddressFamily,
    node_ports: &NodePortAddresses,
) -> Desired {
    let mut d = Desired {
        family: nft_family(family),
        skeleton: skeleton(family, node_ports),
        ..Default::default()
    };
    for p in plan.ports().filter(|p| p.key.family == family) {
        d.ports.insert(p.key.clone(), render_port(p, node));
    }
    d
}

/// The fixed chains, sets, maps and rules (kube-proxy's `setupNFTables`).
pub fn skeleton(family: AddressFamily, node_ports: &NodePortAddresses) -> Skeleton {
    let ip = nft_family(family);
    let addr = match family {
        AddressFamily::V4 => "ipv4_addr",
        AddressFamily::V6 => "ipv6_addr",
    };
    let no_localhost = match family {
        AddressFamily::V4 => "ip daddr != 127.0.0.0/8",
        AddressFamily::V6 => "ip6 daddr != ::1",
    };
    let mut s = Skeleton::default();
    let base = |name: &str, ty: &str, hook: &str, prio: &str| {
        (
            name.to_owned(),
            format!("type {ty} hook {hook} priority {prio} ;"),
        )
    };
    s.chains = vec![
        // nft 1.0.6 accepts the `dstnat` keyword only on prerouting: numbers (dstnat is
        // -100, srcnat 100). Filters run just before DNAT, to see the Service address.
        base("filter-prerouting-pre-dnat", "filter", "prerouting", "-110"),
        base("filter-input", "filter", "input", "-110"),
        base("filter-forward", "filter", "forward", "-110"),
        base("filter-output", "filter", "output", "-110"),
        base("filter-output-post-dnat", "filter", "output", "-90"),
        base("nat-prerouting", "nat", "prerouting", "-100"),
        base("nat-output", "nat", "output", "-100"),
        base("nat-postrouting", "nat", "postrouting", "100"),
    ];
    for regular in [
        "services",
        "masquerading",
        MARK_MASQ,
        "service-endpoints-check",
        "nodeport-endpoints-check",
        "firewall-check",
        "cluster-ips-check",
        REJECT_CHAIN,
    ] {
        s.chains.push((regular.to_owned(), String::new()));
    }
    let map = |name: &str, key: &str, comment: &str| {
        (
            name.to_owned(),
            format!("type {key} : verdict ; comment \"{comment}\" ;"),
        )
    };
    let svc_key = format!("{addr} . inet_proto . inet_service");
    s.sets = vec![
        (
            CLUSTER_IPS.to_owned(),
            format!("type {addr} ; comment \"Active ClusterIPs\" ;"),
        ),
        (
            NODEPORT_IPS.to_owned(),
            format!("type {addr} ; comment \"IPs that accept NodePort traffic\" ;"),
        ),
        map(
            SERVICE_IPS,
            &svc_key,
            "ClusterIP, ExternalIP and LoadBalancer IP traffic",
        ),
        map(
            SERVICE_NODEPORTS,
            "inet_proto . inet_service",
            "NodePort traffic",
        ),
        map(
            NO_ENDPOINT_SERVICES,
            &svc_key,
            "vmap to drop or reject packets to services with no endpoints",
        ),
        map(
            NO_ENDPOINT_NODEPORTS,
            "inet_proto . inet_service",
            "vmap to drop or reject packets to service nodeports with no endpoints",
        ),
        map(
            FIREWALL_IPS,
            &svc_key,
            "destinations that are subject to LoadBalancerSourceRanges",
        ),
    ];
    let nodeport_match = match node_ports {
        NodePortAddresses::AllLocal => format!("fib daddr type local {no_localhost}"),
        NodePortAddresses::Only(_) => format!("{ip} daddr @{NODEPORT_IPS}"),
    };
    let r = |chain: &str, rule: String| (chain.to_owned(), rule);
    s.rules = vec![
        r(
            "filter-prerouting-pre-dnat",
            "ct state new jump firewall-check".into(),
        ),
        r(
            "filter-input",
            "ct state new jump nodeport-endpoints-check".into(),
        ),
        r(
            "filter-input",
            "ct state new jump service-endpoints-check".into(),
        ),
        r(
            "filter-forward",
            "ct state new jump service-endpoints-check".into(),
        ),
        r(
            "filter-forward",
            "ct state new jump cluster-ips-check".into(),
        ),
        r(
            "filter-output",
            "ct state new jump service-endpoints-check".into(),
        ),
        r("filter-output", "ct state new jump firewall-check".into()),
        r(
            "filter-output-post-dnat",
            "ct state new jump cluster-ips-check".into(),
        ),
        r("nat-prerouting", "jump services".into()),
        r("nat-output", "jump services".into()),
        r("nat-postrouting", "jump masquerading".into()),
        r(
            "services",
            format!("{ip} daddr . meta l4proto . th dport vmap @{SERVICE_IPS}"),
        ),
        r(
            "services",
            format!("{nodeport_match} meta l4proto . th dport vmap @{SERVICE_NODEPORTS}"),
        ),
        r(
            "masquerading",
            format!("meta mark & {MASQ_MARK} == 0 return"),
        ),
        r(
            "masquerading",
            format!("meta mark set meta mark ^ {MASQ_MARK}"),
        ),
        r("masquerading", "masquerade fully-random".into()),
        r(MARK_MASQ, format!("meta mark set meta mark | {MASQ_MARK}")),
        r(
            "service-endpoints-check",
            format!("{ip} daddr . meta l4proto . th dport vmap @{NO_ENDPOINT_SERVICES}"),
        ),
        r(
            "nodeport-endpoints-check",
            format!("{nodeport_match} meta l4proto . th dport vmap @{NO_ENDPOINT_NODEPORTS}"),
        ),
        r(
            "firewall-check",
            format!("{ip} daddr . meta l4proto . th dport vmap @{FIREWALL_IPS}"),
        ),
        r(
            "cluster-ips-check",
            format!(
                "{ip} daddr @{CLUSTER_IPS} reject comment \"Reject traffic to invalid ports of ClusterIPs\""
            ),
        ),
        // TCP gets a reset (connect fails at once with ECONNREFUSED), the rest ICMP port
        // unreachable.
        r(
            REJECT_CHAIN,
            "meta l4proto tcp reject with tcp reset".into(),
        ),
        r(REJECT_CHAIN, "reject".into()),
    ];
    if let NodePortAddresses::Only(ips) = node_ports {
        for ip in ips {
            s.elements.push(Element {
                set: NODEPORT_IPS,
                key: ip.to_string(),
                value: None,
                comment: None,
            });
        }
    }
    s
}

/// The chains, affinity sets and map elements of one service port.
pub fn render_port(p: &PortPlan, node: &NodeInfo) -> PortObjects {
    let ip = nft_family(p.key.family);
    let proto = p.protocol().as_str();
    let comment = p.key.name.to_string();
    let names = ChainNames::new(&p.key.name);
    let mut o = PortObjects::default();
    let elem =
        |set: &'static str, addr: IpAddr, port: u16, value: String, with_comment: bool| Element {
            set,
            key: format!("{addr} . {proto} . {port}"),
            value: Some(value),
            comment: with_comment.then(|| comment.clone()),
        };
    let verdict = |t: Target, chain_cluster: &str, chain_local: &str| match t {
        Target::Cluster => format!("goto {chain_cluster}"),
        Target::Local => format!("goto {chain_local}"),
        Target::Reject => format!("goto {REJECT_CHAIN}"),
        Target::Drop => "drop".to_owned(),
    };

    // ClusterIP.
    o.elements.push(Element {
        set: CLUSTER_IPS,
        key: p.cluster_ip.to_string(),
        value: None,
        comment: None,
    });
    let internal = p.internal_target();
    let internal_chain = match internal {
        Target::Local => &names.local,
        _ => &names.cluster,
    };
    match internal {
        Target::Cluster | Target::Local => o.elements.push(elem(
            SERVICE_IPS,
            p.cluster_ip,
            p.port,
            format!("goto {internal_chain}"),
            false,
        )),
        t => o.elements.push(elem(
            NO_ENDPOINT_SERVICES,
            p.cluster_ip,
            p.port,
            verdict(t, "", ""),
            true,
        )),
    }

    // External addresses and the node port.
    let external = p.external_target();
    let no_external = matches!(external, Target::Reject | Target::Drop);
    for vip in p.external_vips() {
        if p.uses_external_dispatch() {
            o.elements.push(elem(
                SERVICE_IPS,
                vip,
                p.port,
                format!("goto {}", names.external),
                false,
            ));
        }
        if no_external {
            o.elements.push(elem(
                NO_ENDPOINT_SERVICES,
                vip,
                p.port,
                verdict(external, "", ""),
                true,
            ));
        }
    }
    if p.uses_firewall() {
        for lb in &p.load_balancer_ips {
            o.elements.push(elem(
                FIREWALL_IPS,
                *lb,
                p.port,
                format!("goto {}", names.firewall),
                true,
            ));
        }
        let mut allowed: Vec<String> = p
            .load_balancer_source_ranges
            .iter()
            .map(|n| n.to_string())
            .collect();
        // A node that is itself inside the ranges reaches its own LB IPs with an LB IP as
        // the source (kube-proxy's allowFromNode).
        let from_node = node.node_ip(p.key.family).is_some_and(|nip| {
            p.load_balancer_source_ranges
                .iter()
                .any(|n| n.contains(&nip))
        });
        if from_node {
            allowed.extend(p.load_balancer_ips.iter().map(|i| i.to_string()));
        }
        // Not-in-any as a conjunction of plain matches: no anonymous set.
        let not_in: Vec<String> = allowed
            .iter()
            .map(|a| format!("{ip} saddr != {a}"))
            .collect();
        o.chains.push(Chain {
            name: names.firewall.clone(),
            comment: comment.clone(),
            rules: vec![format!("{} drop", not_in.join(" "))],
        });
    }
    if let Some(np) = p.node_port {
        let key = format!("{proto} . {np}");
        if p.uses_external_dispatch() {
            o.elements.push(Element {
                set: SERVICE_NODEPORTS,
                key: key.clone(),
                value: Some(format!("goto {}", names.external)),
                comment: None,
            });
        }
        if no_external {
            o.elements.push(Element {
                set: NO_ENDPOINT_NODEPORTS,
                key,
                value: Some(verdict(external, "", "")),
                comment: Some(comment.clone()),
            });
        }
    }

    // Masquerade ClusterIP traffic from outside the cluster CIDR (it may leave the node).
    let not_from_pods: Vec<String> = node
        .cluster_cidrs(p.key.family)
        .map(|c| format!("{ip} saddr != {c}"))
        .collect();
    let masq_outside = (!not_from_pods.is_empty()).then(|| {
        format!(
            "{ip} daddr {} {proto} dport {} {} jump {MARK_MASQ}",
            p.cluster_ip,
            p.port,
            not_from_pods.join(" ")
        )
    });

    // The external dispatch chain.
    if p.uses_external_dispatch() {
        let mut rules = Vec::new();
        if p.external_policy == podnet_k8s_model::TrafficPolicy::Cluster {
            rules.push(format!("jump {MARK_MASQ}"));
        } else {
            for c in node.cluster_cidrs(p.key.family) {
                rules.push(format!(
                    "{ip} saddr {c} goto {} comment \"short-circuit pod traffic\"",
                    names.cluster
                ));
            }
            rules.push(format!(
                "fib saddr type local jump {MARK_MASQ} comment \"masquerade local traffic\""
            ));
            rules.push(format!(
                "fib saddr type local goto {} comment \"short-circuit local traffic\"",
                names.cluster
            ));
        }
        if !no_external {
            rules.push(verdict(external, &names.cluster, &names.local));
        }
        o.chains.push(Chain {
            name: names.external.clone(),
            comment: comment.clone(),
            rules,
        });
    }

    // Endpoint picks.
    let endpoint_chain = |addr| format!("endpoint-{}", endpoint_chain_base(&p.key.name, addr));
    let affinity_set = |addr| format!("affinity-{}", endpoint_chain_base(&p.key.name, addr));
    let pick = |chain: &str, eps: &[podnet_k8s_model::Endpoint], internal_here: bool| {
        let mut rules = Vec::new();
        if internal_here {
            rules.extend(masq_outside.clone());
        }
        if p.affinity_timeout_secs.is_some() {
            for e in eps {
                rules.push(format!(
                    "{ip} saddr @{} goto {}",
                    affinity_set(e.addr),
                    endpoint_chain(e.addr)
                ));
            }
        }
        let n = eps.len();
        for (i, e) in eps.iter().enumerate() {
            if i + 1 == n {
                rules.push(format!("goto {}", endpoint_chain(e.addr)));
            } else {
                rules.push(format!(
                    "numgen random mod {} 0 goto {}",
                    n - i,
                    endpoint_chain(e.addr)
                ));
            }
        }
        Chain {
            name: chain.to_owned(),
            comment: comment.clone(),
            rules,
        }
    };
    if p.uses_cluster_endpoints() {
        o.chains.push(pick(
            &names.cluster,
            &p.cluster_endpoints,
            internal == Target::Cluster,
        ));
    }
    if p.uses_local_endpoints() {
        o.chains.push(pick(
            &names.local,
            &p.local_endpoints,
            internal == Target::Local,
        ));
    }
    for e in p.reachable_endpoints() {
        let mut rules = vec![format!("{ip} saddr {} jump {MARK_MASQ}", e.addr.ip())];
        if let Some(timeout) = p.affinity_timeout_secs {
            let set = affinity_set(e.addr);
            rules.push(format!("update @{set} {{ {ip} saddr }}"));
            o.affinity_sets.push(AffinitySet {
                name: set,
                timeout_secs: timeout,
            });
        }
        rules.push(format!(
            "meta l4proto {proto} dnat to {}",
            dnat_target(e.addr)
        ));
        o.chains.push(Chain {
            name: endpoint_chain(e.addr),
            comment: comment.clone(),
            rules,
        });
    }
    o
}

fn dnat_target(addr: std::net::SocketAddr) -> String {
    match addr {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
