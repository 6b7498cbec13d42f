//! One policy's chain for one direction: per rule, every (peer kind × port) combination as
//! one `counter accept` rule; peers and named ports as sets keyed by address.

use std::net::IpAddr;

use podnet_nft::expr::{Expr, IpField, MetaKey, PortField, Selector, Transport, Verdict};
use podnet_nft::object::{ChainDecl, Element, Rule, SetDecl, SetFlags, Table};
use podnet_nft::types::{Atom, DataType, Key, Value};

use super::names::{policy_chain as chain_name, rule_set};
use crate::cidr;
use crate::cluster::Cluster;
use crate::model::{
    Direction, NetworkPolicy, Peer, Pod, Port, PortMatch, Protocol, Rule as PolicyRule,
};

/// Declares `np/NS/NAME/DIR` with its sets in `t`.
pub fn policy_chain(
    t: &mut Table,
    cluster: &Cluster,
    policy: &NetworkPolicy,
    direction: Direction,
    node: &str,
) {
    let name = chain_name(&policy.id, direction);
    let mut out = Vec::new();
    for (i, rule) in policy
        .rules(direction)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let comment = format!("{} {direction} rule {i}", policy.id);
        let peers = peer_matches(t, cluster, policy, direction, i, rule);
        let ports = port_matches(t, cluster, policy, direction, i, rule, node);
        for peer in &peers {
            for port in &ports {
                let mut exprs: Vec<Expr> = peer.iter().chain(port).cloned().collect();
                exprs.push(Expr::Counter);
                exprs.push(Expr::Verdict(Verdict::Accept));
                out.push(Rule::new(exprs).with_comment(&comment));
            }
        }
    }
    let c = t.chain(ChainDecl::regular(&name).with_comment(&format!("{} {direction}", policy.id)));
    for r in out {
        c.rule(r);
    }
}

/// The other end's address: the source of what comes in, the destination of what goes out.
fn peer_selector(direction: Direction) -> Selector {
    match direction {
        Direction::Ingress => Selector::Ip(IpField::Saddr),
        Direction::Egress => Selector::Ip(IpField::Daddr),
    }
}

/// The alternatives a rule's peers allow: `None` for every peer; nothing at all when its
/// peers can match no IPv4 address.
fn peer_matches(
    t: &mut Table,
    cluster: &Cluster,
    policy: &NetworkPolicy,
    direction: Direction,
    i: usize,
    rule: &PolicyRule,
) -> Vec<Option<Expr>> {
    if rule.peers.is_empty() {
        return vec![None];
    }
    let ns = policy.id.namespace.as_str();
    let mut alts = Vec::new();
    let pod_peers: Vec<&Peer> = rule
        .peers
        .iter()
        .filter(|p| matches!(p, Peer::Pods { .. }))
        .collect();
    if !pod_peers.is_empty() {
        let name = rule_set(&policy.id, direction, i, "pods");
        let set = t.set(
            SetDecl::set(&name, vec![DataType::Ipv4Addr])
                .with_comment(&format!("{} {direction} rule {i}: pods", policy.id)),
        );
        for peer in pod_peers {
            for pod in cluster.peer_pods(ns, peer) {
                if let Some(ip @ IpAddr::V4(_)) = pod.policy_ip() {
                    set.element(Element::key(Value::ip(ip)));
                }
            }
        }
        alts.push(Some(podnet_nft::expr::Match::in_set(
            vec![peer_selector(direction)],
            &name,
        )));
    }
    let blocks: Vec<_> = rule
        .peers
        .iter()
        .filter_map(|p| match p {
            Peer::IpBlock(b) => Some(b),
            Peer::Pods { .. } => None,
        })
        .collect();
    let nets = cidr::prefixes(&blocks);
    if !nets.is_empty() {
        let name = rule_set(&policy.id, direction, i, "cidrs");
        let set = t.set(
            SetDecl::set(&name, vec![DataType::Ipv4Addr])
                .with_flags(SetFlags {
                    interval: true,
                    ..SetFlags::default()
                })
                .with_comment(&format!("{} {direction} rule {i}: ipBlocks", policy.id)),
        );
        for net in nets {
            set.element(Element::key(Atom::net(
                IpAddr::V4(net.network()),
                net.prefix_len(),
            )));
        }
        alts.push(Some(podnet_nft::expr::Match::in_set(
            vec![peer_selector(direction)],
            &name,
        )));
    }
    alts
}

/// The alternatives a rule's ports allow: `None` for every port; named ports as one set of
/// (destination pod, protocol, number), resolved on each destination pod.
fn port_matches(
    t: &mut Table,
    cluster: &Cluster,
    policy: &NetworkPolicy,
    direction: Direction,
    i: usize,
    rule: &PolicyRule,
    node: &str,
) -> Vec<Option<Expr>> {
    if rule.ports.is_empty() {
        return vec![None];
    }
    let mut alts = Vec::new();
    let mut named: Vec<(&str, Protocol)> = Vec::new();
    for Port { protocol, port } in &rule.ports {
        match port {
            PortMatch::Any => alts.push(Some(podnet_nft::expr::Match::eq(
                Selector::Meta(MetaKey::L4proto),
                Value::Proto(protocol.number()),
            ))),
            PortMatch::Range(lo, hi) => {
                let key: Key = if lo == hi {
                    Value::Port(*lo).into()
                } else {
                    Atom::Range(Value::Port(*lo), Value::Port(*hi)).into()
                };
                alts.push(Some(podnet_nft::expr::Match::eq(
                    Selector::Port(transport(*protocol), PortField::Dport),
                    key,
                )));
            }
            PortMatch::Named(name) => named.push((name, *protocol)),
        }
    }
    if !named.is_empty() {
        let name = rule_set(&policy.id, direction, i, "named");
        let set = t.set(
            SetDecl::set(
                &name,
                vec![
                    DataType::Ipv4Addr,
                    DataType::InetProto,
                    DataType::InetService,
                ],
            )
            .with_comment(&format!("{} {direction} rule {i}: named ports", policy.id)),
        );
        // The destination: this node's subjects coming in, any pod going out.
        let destinations: Vec<&Pod> = cluster
            .pods
            .values()
            .filter(|p| match direction {
                Direction::Ingress => p.node.as_deref() == Some(node) && cluster.selects(policy, p),
                Direction::Egress => true,
            })
            .collect();
        for pod in destinations {
            let Some(ip @ IpAddr::V4(_)) = pod.policy_ip() else {
                continue;
            };
            for (port_name, protocol) in &named {
                if let Some(n) = pod.named_port(port_name, *protocol) {
                    set.element(Element::key([
                        Value::ip(ip),
                        Value::Proto(protocol.number()),
                        Value::Port(n),
                    ]));
                }
            }
        }
        alts.push(Some(podnet_nft::expr::Match::in_set(
            vec![
                Selector::Ip(IpField::Daddr),
                Selector::Meta(MetaKey::L4proto),
                Selector::Port(Transport::Th, PortField::Dport),
            ],
            &name,
        )));
    }
    alts
}

fn transport(p: Protocol) -> Transport {
    match p {
        Protocol::Tcp => Transport::Tcp,
        Protocol::Udp => Transport::Udp,
        Protocol::Sctp => Transport::Sctp,
    }
}
