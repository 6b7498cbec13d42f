//! Plan → desired nftables state (pure), as typed podnet-nft objects. kube-proxy's table,
//! chain, map and set names and rule shapes, except the endpoint pick: a cascade of plain
//! rules (`numgen random mod N-i 0 goto endpoint-i`) instead of one anonymous vmap per
//! service.

mod port;

use std::net::IpAddr;

use podnet_k8s_model::AddressFamily;
use podnet_nft::build::l4proto;
use podnet_nft::expr::{
    CmpOp, CtKey, Expr, FibAddr, Ip6Field, IpField, MarkOp, Match, PortField, RejectWith, Selector,
    Transport, Verdict, VmapRef,
};
use podnet_nft::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl};
use podnet_nft::types::{AddrType, Atom, DataType, Family, Value, ct_state, proto};

pub use port::render_port;

use super::ruleset::{Desired, SetElement, Skeleton};
use crate::node::{NodeInfo, NodePortAddresses};
use crate::plan::Plan;

pub const TABLE: &str = "kube-proxy";
/// kube-proxy's masquerade mark (bit 14).
pub const MASQ_MARK: u32 = 0x4000;

pub const SERVICE_IPS: &str = "service-ips";
pub const SERVICE_NODEPORTS: &str = "service-nodeports";
pub const NO_ENDPOINT_SERVICES: &str = "no-endpoint-services";
pub const NO_ENDPOINT_NODEPORTS: &str = "no-endpoint-nodeports";
pub const FIREWALL_IPS: &str = "firewall-ips";
pub const CLUSTER_IPS: &str = "cluster-ips";
pub const NODEPORT_IPS: &str = "nodeport-ips";
const REJECT_CHAIN: &str = "reject-chain";
const MARK_MASQ: &str = "mark-for-masquerade";

/// The nft family of `family`.
pub fn nft_family(family: AddressFamily) -> Family {
    match family {
        AddressFamily::V4 => Family::Ip,
        AddressFamily::V6 => Family::Ip6,
    }
}

/// What differs between the two families' tables.
#[derive(Clone, Copy)]
struct Fam {
    family: AddressFamily,
}

impl Fam {
    fn addr_type(self) -> DataType {
        match self.family {
            AddressFamily::V4 => DataType::Ipv4Addr,
            AddressFamily::V6 => DataType::Ipv6Addr,
        }
    }

    fn saddr(self) -> Selector {
        match self.family {
            AddressFamily::V4 => Selector::Ip(IpField::Saddr),
            AddressFamily::V6 => Selector::Ip6(Ip6Field::Saddr),
        }
    }

    fn daddr(self) -> Selector {
        match self.family {
            AddressFamily::V4 => Selector::Ip(IpField::Daddr),
            AddressFamily::V6 => Selector::Ip6(Ip6Field::Daddr),
        }
    }

    /// `ip daddr . meta l4proto . th dport`.
    fn svc_selectors(self) -> Vec<Selector> {
        vec![self.daddr(), l4proto(), th_dport()]
    }

    fn svc_key(self) -> Vec<DataType> {
        vec![self.addr_type(), DataType::InetProto, DataType::InetService]
    }

    /// Not loopback: `ip daddr != 127.0.0.0/8`, `ip6 daddr != ::1`.
    fn not_loopback(self) -> Expr {
        match self.family {
            AddressFamily::V4 => {
                Match::ne(self.daddr(), Atom::Prefix(IpAddr::from([127, 0, 0, 0]), 8))
            }
            AddressFamily::V6 => Match::ne(
                self.daddr(),
                Value::ip(std::net::Ipv6Addr::LOCALHOST.into()),
            ),
        }
    }
}

fn th_dport() -> Selector {
    Selector::Port(Transport::Th, PortField::Dport)
}

fn jump(chain: &str) -> Expr {
    Expr::jump(chain)
}

fn ct_new() -> Expr {
    Match::eq(Selector::Ct(CtKey::State), Value::CtState(ct_state::NEW))
}

fn rule(exprs: Vec<Expr>) -> Rule {
    Rule::new(exprs)
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
        ports: Default::default(),
    };
    for p in plan.ports().filter(|p| p.key.family == family) {
        d.ports.insert(p.key.clone(), render_port(p, node));
    }
    d
}

/// The fixed chains, sets, maps and rules (kube-proxy's `setupNFTables`).
pub fn skeleton(family: AddressFamily, node_ports: &NodePortAddresses) -> Skeleton {
    let f = Fam { family };
    let mut s = Skeleton::default();
    let base = |name: &str, ty, hook, prio| ChainDecl::base(name, ty, hook, prio, Policy::Accept);
    s.chains = vec![
        // Filters run just before DNAT (dstnat is -100, srcnat 100), to see the Service
        // address.
        base(
            "filter-prerouting-pre-dnat",
            ChainType::Filter,
            Hook::Prerouting,
            -110,
        ),
        base("filter-input", ChainType::Filter, Hook::Input, -110),
        base("filter-forward", ChainType::Filter, Hook::Forward, -110),
        base("filter-output", ChainType::Filter, Hook::Output, -110),
        base(
            "filter-output-post-dnat",
            ChainType::Filter,
            Hook::Output,
            -90,
        ),
        base("nat-prerouting", ChainType::Nat, Hook::Prerouting, -100),
        base("nat-output", ChainType::Nat, Hook::Output, -100),
        base("nat-postrouting", ChainType::Nat, Hook::Postrouting, 100),
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
        s.chains.push(ChainDecl::regular(regular));
    }
    let vmap = |name: &str, key: Vec<DataType>, comment: &str| {
        SetDecl::vmap(name, key).with_comment(comment)
    };
    let port_key = vec![DataType::InetProto, DataType::InetService];
    s.sets = vec![
        SetDecl::set(CLUSTER_IPS, vec![f.addr_type()]).with_comment("Active ClusterIPs"),
        SetDecl::set(NODEPORT_IPS, vec![f.addr_type()])
            .with_comment("IPs that accept NodePort traffic"),
        vmap(
            SERVICE_IPS,
            f.svc_key(),
            "ClusterIP, ExternalIP and LoadBalancer IP traffic",
        ),
        vmap(SERVICE_NODEPORTS, port_key.clone(), "NodePort traffic"),
        vmap(
            NO_ENDPOINT_SERVICES,
            f.svc_key(),
            "vmap to drop or reject packets to services with no endpoints",
        ),
        vmap(
            NO_ENDPOINT_NODEPORTS,
            port_key,
            "vmap to drop or reject packets to service nodeports with no endpoints",
        ),
        vmap(
            FIREWALL_IPS,
            f.svc_key(),
            "destinations that are subject to LoadBalancerSourceRanges",
        ),
    ];
    let nodeport_match = || match node_ports {
        NodePortAddresses::AllLocal => vec![
            Match::eq(
                Selector::Fib(FibAddr::Daddr),
                Value::AddrType(AddrType::Local),
            ),
            f.not_loopback(),
        ],
        NodePortAddresses::Only(_) => vec![Match::in_set(vec![f.daddr()], NODEPORT_IPS)],
    };
    let port_selectors = || vec![l4proto(), th_dport()];
    let vmap_of = |key: Vec<Selector>, map: &str| Expr::Vmap {
        key,
        map: VmapRef::Named(map.to_owned()),
    };
    let with = |mut head: Vec<Expr>, tail: Expr| {
        head.push(tail);
        rule(head)
    };
    let r = |chain: &str, rule: Rule| (chain.to_owned(), rule);
    s.rules = vec![
        r(
            "filter-prerouting-pre-dnat",
            rule(vec![ct_new(), jump("firewall-check")]),
        ),
        r(
            "filter-input",
            rule(vec![ct_new(), jump("nodeport-endpoints-check")]),
        ),
        r(
            "filter-input",
            rule(vec![ct_new(), jump("service-endpoints-check")]),
        ),
        r(
            "filter-forward",
            rule(vec![ct_new(), jump("service-endpoints-check")]),
        ),
        r(
            "filter-forward",
            rule(vec![ct_new(), jump("cluster-ips-check")]),
        ),
        r(
            "filter-output",
            rule(vec![ct_new(), jump("service-endpoints-check")]),
        ),
        r(
            "filter-output",
            rule(vec![ct_new(), jump("firewall-check")]),
        ),
        r(
            "filter-output-post-dnat",
            rule(vec![ct_new(), jump("cluster-ips-check")]),
        ),
        r("nat-prerouting", rule(vec![jump("services")])),
        r("nat-output", rule(vec![jump("services")])),
        r("nat-postrouting", rule(vec![jump("masquerading")])),
        r(
            "services",
            rule(vec![vmap_of(f.svc_selectors(), SERVICE_IPS)]),
        ),
        r(
            "services",
            with(
                nodeport_match(),
                vmap_of(port_selectors(), SERVICE_NODEPORTS),
            ),
        ),
        r(
            "masquerading",
            rule(vec![
                Match::mark_masked(MASQ_MARK, CmpOp::Eq, 0),
                Expr::Verdict(Verdict::Return),
            ]),
        ),
        r(
            "masquerading",
            rule(vec![Expr::MarkSet(MarkOp::Xor(MASQ_MARK))]),
        ),
        r(
            "masquerading",
            rule(vec![Expr::Masquerade { fully_random: true }]),
        ),
        r(MARK_MASQ, rule(vec![Expr::MarkSet(MarkOp::Or(MASQ_MARK))])),
        r(
            "service-endpoints-check",
            rule(vec![vmap_of(f.svc_selectors(), NO_ENDPOINT_SERVICES)]),
        ),
        r(
            "nodeport-endpoints-check",
            with(
                nodeport_match(),
                vmap_of(port_selectors(), NO_ENDPOINT_NODEPORTS),
            ),
        ),
        r(
            "firewall-check",
            rule(vec![vmap_of(f.svc_selectors(), FIREWALL_IPS)]),
        ),
        r(
            "cluster-ips-check",
            rule(vec![
                Match::in_set(vec![f.daddr()], CLUSTER_IPS),
                Expr::Reject(RejectWith::PortUnreachable),
            ])
            .with_comment("Reject traffic to invalid ports of ClusterIPs"),
        ),
        // TCP gets a reset (connect fails at once with ECONNREFUSED), the rest ICMP port
        // unreachable. nft makes the reset depend on `meta l4proto tcp` by itself.
        r(REJECT_CHAIN, rule(vec![Expr::Reject(RejectWith::TcpReset)])),
        r(
            REJECT_CHAIN,
            rule(vec![Expr::Reject(RejectWith::PortUnreachable)]),
        ),
    ];
    if let NodePortAddresses::Only(ips) = node_ports {
        for ip in ips {
            s.elements.push(SetElement {
                set: NODEPORT_IPS,
                element: Element::key(Value::ip(*ip)),
            });
        }
    }
    s
}

/// `meta l4proto P` for a Service port's protocol, and its number.
fn protocol(p: podnet_k8s_model::Protocol) -> (u8, Transport) {
    match p {
        podnet_k8s_model::Protocol::Tcp => (proto::TCP, Transport::Tcp),
        podnet_k8s_model::Protocol::Udp => (proto::UDP, Transport::Udp),
        podnet_k8s_model::Protocol::Sctp => (proto::SCTP, Transport::Sctp),
    }
}
