//! What the policy table's counters saw, for the agent's /metrics: accepted packets per
//! policy and direction (each rule's `counter`, by its comment `NS/NAME DIR rule I`),
//! dropped packets per isolated pod and direction (`NS/NAME DIR: no policy allows`), and
//! packets per ClusterNetworkPolicy, direction and action (`TIER NAME DIR rule I ACTION`).

use std::collections::BTreeMap;
use std::fmt::Write;

use podnet_nft::Nft;

use crate::error::Result;
use crate::render::TABLE;

/// Packets per (namespace, policy or pod, direction).
type Tally = BTreeMap<(String, String, String), u64>;

/// Packets per (tier, ClusterNetworkPolicy, direction, action).
type ClusterTally = BTreeMap<(String, String, String, String), u64>;

/// The table's counters, summed per policy (accepted) and per pod (dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub allowed: Tally,
    pub denied: Tally,
    /// What ClusterNetworkPolicies' rules matched (Accept, Deny and Pass alike).
    pub cluster: ClusterTally,
}

// === impl Counters ===

impl Counters {
    /// Reads the kernel's table through `nft` (empty when the table is not there).
    pub fn read(nft: &Nft) -> Result<Self> {
        let text = nft.list_table("inet", TABLE)?.unwrap_or_default();
        Ok(Self::parse(&text))
    }

    /// From `nft list table` text: rules with `counter packets N bytes M … comment "…"`.
    pub fn parse(listing: &str) -> Self {
        let mut c = Counters::default();
        for line in listing.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(i) = words.iter().position(|w| *w == "packets") else {
                continue;
            };
            let Some(packets) = words.get(i + 1).and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            let Some((_, comment)) = line.split_once("comment \"") else {
                continue;
            };
            let comment = comment.trim_end_matches('"');
            if let [tier @ ("Admin" | "Baseline"), name, dir, "rule", _, action] =
                comment.split_whitespace().collect::<Vec<_>>()[..]
            {
                let key = [tier, name, dir, action].map(str::to_owned);
                *c.cluster.entry(key.into()).or_default() += packets;
                continue;
            }
            let mut parts = comment.split_whitespace();
            let (Some(id), Some(dir)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some((ns, name)) = id.split_once('/') else {
                continue;
            };
            let (tally, dir) = match dir.strip_suffix(':') {
                Some(dir) => (&mut c.denied, dir),
                None => (&mut c.allowed, dir),
            };
            *tally
                .entry((ns.to_owned(), name.to_owned(), dir.to_owned()))
                .or_default() += packets;
        }
        c
    }

    /// Prometheus text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (metric, label, help, tally) in [
            (
                "podnet_network_policy_allowed_packets_total",
                "policy",
                "Packets of new connections accepted by a NetworkPolicy's rules.",
                &self.allowed,
            ),
            (
                "podnet_network_policy_denied_packets_total",
                "pod",
                "Packets dropped because no policy isolating the pod allows them.",
                &self.denied,
            ),
        ] {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
            for ((ns, name, dir), n) in tally {
                let _ = writeln!(
                    out,
                    "{metric}{{namespace=\"{ns}\",{label}=\"{name}\",direction=\"{dir}\"}} {n}"
                );
            }
        }
        let metric = "podnet_cluster_network_policy_packets_total";
        let _ = writeln!(
            out,
            "# HELP {metric} Packets of new connections a ClusterNetworkPolicy's rules matched, by action.\n# TYPE {metric} counter"
        );
        for ((tier, name, dir, action), n) in &self.cluster {
            let _ = writeln!(
                out,
                "{metric}{{tier=\"{tier}\",policy=\"{name}\",direction=\"{dir}\",action=\"{action}\"}} {n}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "table inet podnet-policy {\n\tchain np/x/allow/ingress {\n\
        \t\tcomment \"x/allow ingress\"\n\
        \t\tip saddr @np/x/allow/ingress/0/pods tcp dport 80 counter packets 3 bytes 180 accept comment \"x/allow ingress rule 0\"\n\
        \t\tudp dport 53 counter packets 2 bytes 100 accept comment \"x/allow ingress rule 1\"\n\t}\n\
        \tchain pod/x/a/ingress {\n\t\tjump np/x/allow/ingress\n\
        \t\tcounter packets 7 bytes 420 drop comment \"x/a ingress: no policy allows\"\n\t}\n\
        \tchain cnp/deny-y/egress {\n\
        \t\tip daddr @cnp/deny-y/egress/0/pods counter packets 4 bytes 240 drop comment \"Admin deny-y egress rule 0 Deny\"\n\
        \t\tip daddr @cnp/deny-y/egress/1/cidrs counter packets 1 bytes 60 drop comment \"Admin deny-y egress rule 1 Deny\"\n\t}\n}\n";

    #[test]
    fn counters_sum_per_policy_and_per_pod() {
        let c = Counters::parse(LISTING);
        let key = |ns: &str, n: &str, d: &str| (ns.to_owned(), n.to_owned(), d.to_owned());
        assert_eq!(c.allowed[&key("x", "allow", "ingress")], 5);
        assert_eq!(c.denied[&key("x", "a", "ingress")], 7);
        let cnp = ["Admin", "deny-y", "egress", "Deny"]
            .map(str::to_owned)
            .into();
        assert_eq!(c.cluster[&cnp], 5);
        assert_eq!(
            c.allowed.len() + c.denied.len(),
            2,
            "not counted as a NetworkPolicy's"
        );
        let text = c.render();
        assert!(text.contains(
            "podnet_network_policy_allowed_packets_total{namespace=\"x\",policy=\"allow\",direction=\"ingress\"} 5"
        ));
        assert!(text.contains(
            "podnet_network_policy_denied_packets_total{namespace=\"x\",pod=\"a\",direction=\"ingress\"} 7"
        ));
        assert!(text.contains(
            "podnet_cluster_network_policy_packets_total{tier=\"Admin\",policy=\"deny-y\",direction=\"egress\",action=\"Deny\"} 5"
        ));
    }
}
