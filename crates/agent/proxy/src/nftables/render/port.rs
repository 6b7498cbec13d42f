//! One service port's chains, affinity sets and map elements.

use std::net::{IpAddr, SocketAddr};

use podnet_k8s_model::{Endpoint, TrafficPolicy};
use podnet_nft::build::l4proto;
use podnet_nft::expr::{Expr, FibAddr, Match, NatTo, PortField, Selector, Verdict};
use podnet_nft::object::{Chain, ChainDecl, ElemData, ElemExtra, Element, Rule, SetDecl, SetFlags};
use podnet_nft::types::{AddrType, Atom, Key, Value};

use super::{
    CLUSTER_IPS, FIREWALL_IPS, Fam, MARK_MASQ, NO_ENDPOINT_NODEPORTS, NO_ENDPOINT_SERVICES,
    REJECT_CHAIN, SERVICE_IPS, SERVICE_NODEPORTS, protocol,
};
use crate::nftables::names::{ChainNames, endpoint_chain_base};
use crate::nftables::ruleset::{PortObjects, SetElement};
use crate::node::NodeInfo;
use crate::plan::{PortPlan, Target};

fn prefix(n: &ipnet::IpNet) -> Atom {
    Atom::net(n.network(), n.prefix_len())
}

/// The chains, affinity sets and map elements of one service port.
pub fn render_port(p: &PortPlan, node: &NodeInfo) -> PortObjects {
    let f = Fam {
        family: p.key.family,
    };
    let (proto, transport) = protocol(p.protocol());
    let comment = p.key.name.to_string();
    let names = ChainNames::new(&p.key.name);
    let mut o = PortObjects::default();
    let svc_key = |addr: IpAddr, port: u16| {
        Key(vec![
            Atom::Value(Value::ip(addr)),
            Atom::Value(Value::Proto(proto)),
            Atom::Value(Value::Port(port)),
        ])
    };
    let elem = |set: &'static str, key: Key, v: Verdict, with_comment: bool| SetElement {
        set,
        element: Element {
            key,
            extra: ElemExtra {
                data: Some(ElemData::Verdict(v)),
                comment: with_comment.then(|| comment.clone()),
            },
        },
    };
    let verdict = |t: Target, chain_cluster: &str, chain_local: &str| match t {
        Target::Cluster => Verdict::Goto(chain_cluster.to_owned()),
        Target::Local => Verdict::Goto(chain_local.to_owned()),
        Target::Reject => Verdict::Goto(REJECT_CHAIN.to_owned()),
        Target::Drop => Verdict::Drop,
    };
    let chain = |name: &str, rules: Vec<Rule>| Chain {
        decl: ChainDecl::regular(name).with_comment(&comment),
        rules,
    };

    // ClusterIP.
    o.elements.push(SetElement {
        set: CLUSTER_IPS,
        element: Element::key(Value::ip(p.cluster_ip)),
    });
    let internal = p.internal_target();
    let internal_chain = match internal {
        Target::Local => &names.local,
        _ => &names.cluster,
    };
    match internal {
        Target::Cluster | Target::Local => o.elements.push(elem(
            SERVICE_IPS,
            svc_key(p.cluster_ip, p.port),
            Verdict::Goto(internal_chain.clone()),
            false,
        )),
        t => o.elements.push(elem(
            NO_ENDPOINT_SERVICES,
            svc_key(p.cluster_ip, p.port),
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
                svc_key(vip, p.port),
                Verdict::Goto(names.external.clone()),
                false,
            ));
        }
        if no_external {
            o.elements.push(elem(
                NO_ENDPOINT_SERVICES,
                svc_key(vip, p.port),
                verdict(external, "", ""),
                true,
            ));
        }
    }
    if p.uses_firewall() {
        for lb in &p.load_balancer_ips {
            o.elements.push(elem(
                FIREWALL_IPS,
                svc_key(*lb, p.port),
                Verdict::Goto(names.firewall.clone()),
                true,
            ));
        }
        let mut allowed: Vec<Atom> = p.load_balancer_source_ranges.iter().map(prefix).collect();
        // A node that is itself inside the ranges reaches its own LB IPs with an LB IP as
        // the source (kube-proxy's allowFromNode).
        let from_node = node.node_ip(p.key.family).is_some_and(|nip| {
            p.load_balancer_source_ranges
                .iter()
                .any(|n| n.contains(&nip))
        });
        if from_node {
            allowed.extend(
                p.load_balancer_ips
                    .iter()
                    .map(|i| Atom::Value(Value::ip(*i))),
            );
        }
        // Not-in-any as a conjunction of plain matches: no anonymous set.
        let mut rule: Vec<Expr> = allowed
            .into_iter()
            .map(|a| Match::ne(f.saddr(), a))
            .collect();
        rule.push(Expr::Verdict(Verdict::Drop));
        o.chains.push(chain(&names.firewall, vec![Rule::new(rule)]));
    }
    if let Some(np) = p.node_port {
        let key = Key(vec![
            Atom::Value(Value::Proto(proto)),
            Atom::Value(Value::Port(np)),
        ]);
        if p.uses_external_dispatch() {
            o.elements.push(elem(
                SERVICE_NODEPORTS,
                key.clone(),
                Verdict::Goto(names.external.clone()),
                false,
            ));
        }
        if no_external {
            o.elements.push(elem(
                NO_ENDPOINT_NODEPORTS,
                key,
                verdict(external, "", ""),
                true,
            ));
        }
    }

    // Masquerade ClusterIP traffic from outside the cluster CIDR (it may leave the node).
    let not_from_pods: Vec<Expr> = node
        .cluster_cidrs(p.key.family)
        .map(|c| Match::ne(f.saddr(), prefix(c)))
        .collect();
    let masq_outside = (!not_from_pods.is_empty()).then(|| {
        let mut exprs = vec![
            Match::eq(f.daddr(), Value::ip(p.cluster_ip)),
            Match::eq(
                Selector::Port(transport, PortField::Dport),
                Value::Port(p.port),
            ),
        ];
        exprs.extend(not_from_pods.iter().cloned());
        exprs.push(Expr::jump(MARK_MASQ));
        Rule::new(exprs)
    });

    // The external dispatch chain.
    if p.uses_external_dispatch() {
        let mut rules = Vec::new();
        let local_source = || {
            Match::eq(
                Selector::Fib(FibAddr::Saddr),
                Value::AddrType(AddrType::Local),
            )
        };
        if p.external_policy == TrafficPolicy::Cluster {
            rules.push(Rule::new(vec![Expr::jump(MARK_MASQ)]));
        } else {
            for c in node.cluster_cidrs(p.key.family) {
                rules.push(
                    Rule::new(vec![
                        Match::eq(f.saddr(), prefix(c)),
                        Expr::goto(&names.cluster),
                    ])
                    .with_comment("short-circuit pod traffic"),
                );
            }
            rules.push(
                Rule::new(vec![local_source(), Expr::jump(MARK_MASQ)])
                    .with_comment("masquerade local traffic"),
            );
            rules.push(
                Rule::new(vec![local_source(), Expr::goto(&names.cluster)])
                    .with_comment("short-circuit local traffic"),
            );
        }
        if !no_external {
            rules.push(Rule::new(vec![Expr::Verdict(verdict(
                external,
                &names.cluster,
                &names.local,
            ))]));
        }
        o.chains.push(chain(&names.external, rules));
    }

    // Endpoint picks.
    let endpoint_chain = |addr| format!("endpoint-{}", endpoint_chain_base(&p.key.name, addr));
    let affinity_set = |addr| format!("affinity-{}", endpoint_chain_base(&p.key.name, addr));
    let pick = |name: &str, eps: &[Endpoint], internal_here: bool| {
        let mut rules = Vec::new();
        if internal_here {
            rules.extend(masq_outside.clone());
        }
        if p.affinity_timeout_secs.is_some() {
            for e in eps {
                rules.push(Rule::new(vec![
                    Match::in_set(vec![f.saddr()], &affinity_set(e.addr)),
                    Expr::goto(&endpoint_chain(e.addr)),
                ]));
            }
        }
        let n = eps.len();
        for (i, e) in eps.iter().enumerate() {
            let goto = Expr::goto(&endpoint_chain(e.addr));
            if i + 1 == n {
                rules.push(Rule::new(vec![goto]));
            } else {
                let modulus = u32::try_from(n - i).unwrap_or(u32::MAX);
                rules.push(Rule::new(vec![
                    Match::eq(Selector::Numgen { modulus }, Value::Integer(0)),
                    goto,
                ]));
            }
        }
        chain(name, rules)
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
        let mut rules = vec![Rule::new(vec![
            Match::eq(f.saddr(), Value::ip(e.addr.ip())),
            Expr::jump(MARK_MASQ),
        ])];
        if let Some(timeout) = p.affinity_timeout_secs {
            let set = affinity_set(e.addr);
            rules.push(Rule::new(vec![Expr::SetUpdate {
                set: set.clone(),
                key: vec![f.saddr()],
            }]));
            o.affinity_sets.push(SetDecl {
                timeout: Some(timeout),
                ..SetDecl::set(&set, vec![f.addr_type()]).with_flags(SetFlags {
                    dynamic: true,
                    timeout: true,
                    interval: false,
                })
            });
        }
        rules.push(Rule::new(vec![
            Match::eq(l4proto(), Value::Proto(proto)),
            Expr::Dnat(dnat_target(e.addr)),
        ]));
        o.chains.push(chain(&endpoint_chain(e.addr), rules));
    }
    o
}

fn dnat_target(addr: SocketAddr) -> NatTo {
    NatTo {
        addr: addr.ip(),
        port: Some(addr.port()),
    }
}
