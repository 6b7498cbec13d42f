//! One policy's chain for one direction: per rule, every (peer kind × port) combination as
//! one `counter accept` rule; peers and named ports as sets keyed by address. The sets'
//! making is shared with ClusterNetworkPolicy's chains ([`RuleSets`]).

use std::net::IpAddr;

use podnet_nft::expr::{Expr, IpField, Match, MetaKey, PortField, Selector, Transport, Verdict};
use podnet_nft::object::{ChainDecl, Element, Rule, SetDecl, SetFlags, Table};
use podnet_nft::types::{Atom, DataType, Key, Value};

use super::names::{chain_set, policy_chain as chain_name};
use crate::cidr;
use crate::cluster::Cluster;
use crate::model::{Direction, IpBlock, NetworkPolicy, Peer, Pod, Port, PortMatch, Protocol};

/// Declares `np/NS/NAME/DIR` with its sets in `t`.
pub fn policy_chain(
    t: &mut Table,
    cluster: &Cluster,
    policy: &NetworkPolicy,
    direction: Direction,
    node: &str,
) {
    let name = chain_name(&policy.id, direction);
    let ns = policy.id.namespace.as_str();
    let destinations = destinations(cluster, direction, node, |p| cluster.selects(policy, p));
    let mut out = Vec::new();
    for (i, rule) in policy
        .rules(direction)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let sets = RuleSets {
            chain: &name,
            rule: i,
            describe: format!("{} {direction} rule {i}", policy.id),
            direction,
        };
        let peers = if rule.peers.is_empty() {
            vec![None]
        } else {
            let pod_peers: Vec<&Peer> = rule
                .peers
                .iter()
                .filter(|p| matches!(p, Peer::Pods { .. }))
                .collect();
            let addresses = (!pod_peers.is_empty()).then(|| {
                pod_peers
                    .iter()
                    .flat_map(|peer| cluster.peer_pods(ns, peer))
                    .filter_map(Pod::policy_ip)
                    .collect()
            });
            let blocks: Vec<&IpBlock> = rule
                .peers
                .iter()
                .filter_map(|p| match p {
                    Peer::IpBlock(b) => Some(b),
                    Peer::Pods { .. } => None,
                })
                .collect();
            sets.peers(t, addresses, &blocks)
        };
        let ports = sets.ports(t, &rule.ports, &destinations);
        for peer in &peers {
            for port in &ports {
                let mut exprs: Vec<Expr> = peer.iter().chain(port).cloned().collect();
                exprs.push(Expr::Counter);
                exprs.push(Expr::Verdict(Verdict::Accept));
                out.push(Rule::new(exprs).with_comment(&sets.describe));
            }
        }
    }
    let c = t.chain(ChainDecl::regular(&name).with_comment(&format!("{} {direction}", policy.id)));
    for r in out {
        c.rule(r);
    }
}

/// The pods whose named ports a rule's ports resolve on: coming in, this node's pods that
/// `subject` selects; going out, any pod.
pub fn destinations<'a>(
    cluster: &'a Cluster,
    direction: Direction,
    node: &str,
    subject: impl Fn(&Pod) -> bool,
) -> Vec<&'a Pod> {
    cluster
        .pods
        .values()
        .filter(|p| match direction {
            Direction::Ingress => p.node.as_deref() == Some(node) && subject(p),
            Direction::Egress => true,
        })
        .collect()
}

/// Where one rule's sets are declared, and how they are named and described.
pub struct RuleSets<'a> {
    /// The policy chain the rule is in (the sets are named after it).
    pub chain: &'a str,
    pub rule: usize,
    /// `… DIR rule I`: the rules' comments, and the sets' after a colon.
    pub describe: String,
    pub direction: Direction,
}

impl RuleSets<'_> {
    /// The alternatives a rule's peers allow, as matches on the other end's address: a set of
    /// `addresses` (when the rule has peers of that kind, even if they select none) and an
    /// interval set of `blocks`. Nothing at all when neither can match an IPv4 address.
    pub fn peers(
        &self,
        t: &mut Table,
        addresses: Option<Vec<IpAddr>>,
        blocks: &[&IpBlock],
    ) -> Vec<Option<Expr>> {
        let other_end = match self.direction {
            Direction::Ingress => Selector::Ip(IpField::Saddr),
            Direction::Egress => Selector::Ip(IpField::Daddr),
        };
        let mut alts = Vec::new();
        if let Some(addresses) = addresses {
            let name = chain_set(self.chain, self.rule, "pods");
            let set = t.set(
                SetDecl::set(&name, vec![DataType::Ipv4Addr])
                    .with_comment(&format!("{}: pods", self.describe)),
            );
            for ip in addresses.into_iter().filter(IpAddr::is_ipv4) {
                set.element(Element::key(Value::ip(ip)));
            }
            alts.push(Some(Match::in_set(vec![other_end], &name)));
        }
        let nets = cidr::prefixes(blocks);
        if !nets.is_empty() {
            let name = chain_set(self.chain, self.rule, "cidrs");
            let set = t.set(
                SetDecl::set(&name, vec![DataType::Ipv4Addr])
                    .with_flags(SetFlags {
                        interval: true,
                        ..SetFlags::default()
                    })
                    .with_comment(&format!("{}: ipBlocks", self.describe)),
            );
            for net in nets {
                set.element(Element::key(Atom::net(
                    IpAddr::V4(net.network()),
                    net.prefix_len(),
                )));
            }
            alts.push(Some(Match::in_set(vec![other_end], &name)));
        }
        alts
    }

    /// The alternatives a rule's ports allow: `None` for every port; named ports as one set
    /// of (destination pod, protocol, number), resolved on each of `destinations`.
    pub fn ports(&self, t: &mut Table, ports: &[Port], destinations: &[&Pod]) -> Vec<Option<Expr>> {
        if ports.is_empty() {
            return vec![None];
        }
        let mut alts = Vec::new();
        let mut named: Vec<(&str, Protocol)> = Vec::new();
        for Port { protocol, port } in ports {
            match port {
                PortMatch::Any => alts.push(Some(Match::eq(
                    Selector::Meta(MetaKey::L4proto),
                    Value::Proto(protocol.number()),
                ))),
                PortMatch::Range(lo, hi) => {
                    let key: Key = if lo == hi {
                        Value::Port(*lo).into()
                    } else {
                        Atom::Range(Value::Port(*lo), Value::Port(*hi)).into()
                    };
                    alts.push(Some(Match::eq(
                        Selector::Port(transport(*protocol), PortField::Dport),
                        key,
                    )));
                }
                PortMatch::Named(name) => named.push((name, *protocol)),
            }
        }
        if !named.is_empty() {
            let name = chain_set(self.chain, self.rule, "named");
            let set = t.set(
                SetDecl::set(
                    &name,
                    vec![
                        DataType::Ipv4Addr,
                        DataType::InetProto,
                        DataType::InetService,
                    ],
                )
                .with_comment(&format!("{}: named ports", self.describe)),
            );
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
            alts.push(Some(Match::in_set(
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
}

fn transport(p: Protocol) -> Transport {
    match p {
        Protocol::Tcp => Transport::Tcp,
        Protocol::Udp => Transport::Udp,
        Protocol::Sctp => Transport::Sctp,
    }
}
