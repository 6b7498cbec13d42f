//! Egress masquerade: pod traffic leaving the cluster takes the node's address; traffic
//! between pods, and from pods to nodes, keeps the pod's address (the Kubernetes network
//! model: every pod sees every other pod's and node's real address).
//!
//! The rules live in a table podnet owns, replaced whole in one `nft -f` transaction
//! (`add table` + `delete table` + the new table: the kernel applies all of it or none, so
//! there is no moment without masquerade and no half-updated set). NAT bindings live in
//! conntrack, not in the table, so established connections survive a replacement.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::config::EGRESS_TABLE;

/// What the egress rules depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Egress {
    pub cluster_cidr: Ipv4Net,
    /// Every node's IP, this node's included: pod→node traffic is never masqueraded.
    pub node_ips: BTreeSet<Ipv4Addr>,
}

// === impl Egress ===

impl Egress {
    /// The table, as nft script text.
    pub fn ruleset(&self) -> String {
        let cidr = self.cluster_cidr;
        let mut s = String::new();
        let _ = writeln!(s, "table ip {EGRESS_TABLE} {{");
        let _ = writeln!(
            s,
            "\tcomment \"podnet agent: masquerade pod traffic leaving the cluster\""
        );
        let _ = writeln!(s, "\tset node-ips {{");
        let _ = writeln!(s, "\t\ttype ipv4_addr");
        let _ = writeln!(
            s,
            "\t\tcomment \"every node's InternalIP: pod to node traffic keeps the pod IP\""
        );
        if !self.node_ips.is_empty() {
            let ips: Vec<String> = self.node_ips.iter().map(|ip| ip.to_string()).collect();
            let _ = writeln!(s, "\t\telements = {{ {} }}", ips.join(", "));
        }
        let _ = writeln!(s, "\t}}");
        let _ = writeln!(s, "\tchain postrouting {{");
        let _ = writeln!(
            s,
            "\t\ttype nat hook postrouting priority srcnat; policy accept;"
        );
        let _ = writeln!(
            s,
            "\t\tip saddr != {cidr} return comment \"only traffic from pods is masqueraded\""
        );
        let _ = writeln!(
            s,
            "\t\tip daddr {cidr} return comment \"pod to pod: the server sees the client pod IP\""
        );
        let _ = writeln!(
            s,
            "\t\tip daddr @node-ips return comment \"pod to node: the node sees the pod IP\""
        );
        let _ = writeln!(
            s,
            "\t\tmasquerade comment \"pod to outside the cluster: the node IP of the exit link\""
        );
        let _ = writeln!(s, "\t}}");
        let _ = writeln!(s, "}}");
        s
    }

    /// One transaction replacing the table with [`Egress::ruleset`].
    pub fn transaction(&self) -> String {
        // `add` makes the `delete` valid when the table is not there yet.
        format!(
            "add table ip {EGRESS_TABLE}\ndelete table ip {EGRESS_TABLE}\n{}",
            self.ruleset()
        )
    }
}
