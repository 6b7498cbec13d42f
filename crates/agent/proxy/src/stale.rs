//! Which conntrack entries a plan change leaves stale (kube-proxy's rules, UDP and SCTP
//! only: TCP entries of a dead endpoint end by themselves with resets and timeouts).
//!
//! - An endpoint gone: entries to each of the port's service addresses (and its NodePort)
//!   that were DNATed to that endpoint.
//! - A port with its first endpoint: entries to its service addresses (and NodePort)
//!   created while it had none (they were never NATed and would keep bypassing the DNAT).

use std::collections::BTreeSet;
use std::net::IpAddr;

use podnet_conntrack::Filter;
use podnet_k8s_model::Protocol;

use crate::plan::{PortChange, PortPlan};

/// The conntrack deletions `change` calls for.
pub fn stale_flows(change: &PortChange) -> Vec<Filter> {
    let proto = match change.key.name.protocol {
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
        Protocol::Tcp => return Vec::new(),
    };
    let reachable = |p: &Option<PortPlan>| -> BTreeSet<IpAddr> {
        p.iter()
            .flat_map(|p| p.reachable_endpoints().into_iter().map(|e| e.addr.ip()))
            .collect()
    };
    let before = reachable(&change.old);
    let after = reachable(&change.new);
    let mut out = Vec::new();

    // Gone endpoints, against the addresses the old plan served on.
    if let Some(old) = &change.old {
        for ep in before.difference(&after) {
            for vip in service_addrs(old) {
                out.push(Filter::Nat {
                    proto,
                    service_ip: vip,
                    endpoint_ip: *ep,
                });
            }
            if let Some(np) = old.node_port {
                out.push(Filter::PortNat {
                    proto,
                    port: np,
                    endpoint_ip: *ep,
                });
            }
        }
    }

    // First endpoint(s): whatever was cached while it rejected.
    if let Some(new) = &change.new {
        let had_any = change.old.as_ref().is_some_and(|o| o.has_endpoints);
        if new.has_endpoints && !had_any {
            for vip in service_addrs(new) {
                out.push(Filter::ToAddr {
                    proto,
                    ip: vip,
                    port: Some(new.port),
                });
            }
            if let Some(np) = new.node_port {
                out.push(Filter::ToPort { proto, port: np });
            }
        }
    }
    out
}

fn service_addrs(p: &PortPlan) -> Vec<IpAddr> {
    std::iter::once(p.cluster_ip)
        .chain(p.external_vips())
        .collect()
}
