//! Egress masquerade: pod traffic leaving the cluster takes the node's address; traffic
//! between pods, and from pods to nodes, keeps the pod's address (the Kubernetes network
//! model: every pod sees every other pod's and node's real address).
//!
//! The rules live in a table podnet owns, as typed podnet-nft objects. The kernel applies
//! the difference between this table and what it holds in one atomic transaction (a node
//! joining or leaving changes one set element; a chain flushed behind the agent's back is
//! rewritten), so there is no moment without masquerade. NAT bindings live in conntrack,
//! not in the table, so established connections survive any change.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use podnet_nft::build::{ip_daddr, ip_saddr};
use podnet_nft::expr::{Expr, Match, Verdict};
use podnet_nft::object::{ChainDecl, ChainType, Element, Hook, Policy, Rule, SetDecl, Table};
use podnet_nft::types::{Atom, DataType, Family, Value};

use crate::config::EGRESS_TABLE;

/// nftables' `srcnat` priority: NAT after routing.
const SRCNAT: i32 = 100;
const NODE_IPS: &str = "node-ips";

/// What the egress rules depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Egress {
    pub cluster_cidr: Ipv4Net,
    /// Every node's IP, this node's included: pod→node traffic is never masqueraded.
    pub node_ips: BTreeSet<Ipv4Addr>,
}

// === impl Egress ===

impl Egress {
    /// The desired table.
    pub fn table(&self) -> Table {
        let cidr = Atom::Prefix(
            IpAddr::V4(self.cluster_cidr.network()),
            self.cluster_cidr.prefix_len(),
        );
        let mut t = Table::new(Family::Ip, EGRESS_TABLE);
        t.comment = Some("podnet agent: masquerade pod traffic leaving the cluster".into());
        let set = t.set(
            SetDecl::set(NODE_IPS, vec![DataType::Ipv4Addr])
                .with_comment("every node's InternalIP: pod to node traffic keeps the pod IP"),
        );
        for ip in &self.node_ips {
            set.element(Element::key(Value::Ipv4(*ip)));
        }
        let ret = || Expr::Verdict(Verdict::Return);
        t.chain(ChainDecl::base(
            "postrouting",
            ChainType::Nat,
            Hook::Postrouting,
            SRCNAT,
            Policy::Accept,
        ))
        .rule(
            Rule::new(vec![Match::ne(ip_saddr(), cidr.clone()), ret()])
                .with_comment("only traffic from pods is masqueraded"),
        )
        .rule(
            Rule::new(vec![Match::eq(ip_daddr(), cidr), ret()])
                .with_comment("pod to pod: the server sees the client pod IP"),
        )
        .rule(
            Rule::new(vec![Match::in_set(vec![ip_daddr()], NODE_IPS), ret()])
                .with_comment("pod to node: the node sees the pod IP"),
        )
        .rule(
            Rule::new(vec![Expr::Masquerade {
                fully_random: false,
            }])
            .with_comment("pod to outside the cluster: the node IP of the exit link"),
        );
        t
    }
}
