//! Intent → what this node announces (pure): its LoadBalancer addresses as /32s and, in
//! `routingMode: bgp`, its pod CIDR.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use podnet_k8s_model::{EndpointSliceInfo, Service, ServiceName, TrafficPolicy};

/// Why a prefix is announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// This node's pod CIDR, so that the router sends its pods' traffic here.
    PodCidr,
    /// The LoadBalancer address of these Services (several share one address by ports).
    LoadBalancer(BTreeSet<ServiceName>),
}

/// Every prefix this node announces, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Announcements {
    pub routes: BTreeMap<Ipv4Net, Origin>,
}

/// What this node announces, from its own pod CIDR (`None` outside `routingMode: bgp`), the
/// cluster's Services and the EndpointSlices. A Service with `externalTrafficPolicy:
/// Local` is announced only from nodes with a ready endpoint of it: the proxy there keeps
/// the client's address and would drop what reached a node without one. Cluster-policy
/// Services are announced from every node (the proxy forwards to any endpoint).
pub fn announcements(
    node: &str,
    pod_cidr: Option<Ipv4Net>,
    services: &[Service],
    slices: &[EndpointSliceInfo],
) -> Announcements {
    let ready_here = ready_here(node, slices);
    let mut out = Announcements::default();
    if let Some(cidr) = pod_cidr {
        out.routes.insert(cidr.trunc(), Origin::PodCidr);
    }
    for svc in services {
        if svc.external_traffic_policy == TrafficPolicy::Local && !ready_here.contains(&svc.name) {
            continue;
        }
        for ip in svc.load_balancer_ips.iter().filter_map(v4) {
            let prefix = Ipv4Net::new(ip, 32).expect("/32 is valid");
            match out
                .routes
                .entry(prefix)
                .or_insert_with(|| Origin::LoadBalancer(BTreeSet::new()))
            {
                Origin::LoadBalancer(names) => {
                    names.insert(svc.name.clone());
                }
                // A pod CIDR never holds a /32 of the node network; if it did, the pod CIDR
                // announcement stands.
                Origin::PodCidr => {}
            }
        }
    }
    out
}

/// The Services with a ready endpoint on `node`.
fn ready_here(node: &str, slices: &[EndpointSliceInfo]) -> BTreeSet<ServiceName> {
    slices
        .iter()
        .filter(|s| {
            s.endpoints
                .iter()
                .any(|e| e.ready && e.node_name.as_deref() == Some(node))
        })
        .filter_map(|s| s.service.clone())
        .collect()
}

fn v4(ip: &IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    }
}

// === impl Announcements ===

impl Announcements {
    pub fn prefixes(&self) -> BTreeSet<Ipv4Net> {
        self.routes.keys().copied().collect()
    }

    /// What a node excluded from external load balancers announces
    /// (`node.kubernetes.io/exclude-from-external-load-balancers`): its pod CIDR, which is
    /// routing, and no LoadBalancer address.
    pub fn pod_cidr_only(mut self) -> Self {
        self.routes.retain(|_, origin| *origin == Origin::PodCidr);
        self
    }
}

/// The debug view: one prefix a line, with why.
impl fmt::Display for Announcements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (prefix, origin) in &self.routes {
            match origin {
                Origin::PodCidr => writeln!(f, "announce {prefix}  # pod CIDR")?,
                Origin::LoadBalancer(names) => {
                    let names: Vec<String> = names.iter().map(ToString::to_string).collect();
                    writeln!(f, "announce {prefix}  # LoadBalancer {}", names.join(", "))?
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
