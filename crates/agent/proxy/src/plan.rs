//! The mode-independent plan: for every service port (per address family), exactly which
//! endpoints each kind of traffic goes to, and when it must be rejected or dropped instead.
//! Every proxy mode renders from this; none decides these things on its own.
//!
//! The shape every mode renders (kube-proxy's, in all its modes):
//!
//! ```text
//! internal traffic (ClusterIP)          → masquerade if the source is outside the cluster CIDR
//!                                          → internal_target()
//! external traffic (NodePort, LB IPs,   → external_policy Cluster: masquerade, cluster endpoints
//!   externalIPs)                           external_policy Local: from a pod (cluster CIDR) →
//!                                          cluster endpoints; from the node itself → masquerade,
//!                                          cluster endpoints; else → local endpoints (or drop)
//! each endpoint                         → masquerade if the source is the endpoint itself
//!                                          (hairpin); ClientIP affinity; DNAT
//! ```

mod categorize;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_k8s_model::{
    AddressFamily, Endpoint, Service, ServiceName, ServicePortName, ServiceType, SessionAffinity,
    TrafficPolicy, endpoints_for_port,
};

use crate::node::{NodeInfo, family_of};
use crate::state::ServiceState;

pub use categorize::categorize;

/// One service port in one address family: the unit every mode renders.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey {
    pub name: ServicePortName,
    pub family: AddressFamily,
}

/// Where one kind of traffic to a service port goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// To [`PortPlan::cluster_endpoints`].
    Cluster,
    /// To [`PortPlan::local_endpoints`].
    Local,
    /// The Service has no usable endpoint anywhere: reject at once (ICMP port unreachable,
    /// TCP reset), never a silent timeout.
    Reject,
    /// The policy is Local and this node has no usable endpoint: drop (the client's load
    /// balancer is expected to stop sending here, told so by the health check).
    Drop,
}

/// Everything a mode needs to program one service port in one family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortPlan {
    pub key: PortKey,
    pub cluster_ip: IpAddr,
    pub port: u16,
    pub node_port: Option<u16>,
    /// externalIPs of this family.
    pub external_ips: Vec<IpAddr>,
    /// LoadBalancer ingress IPs of this family.
    pub load_balancer_ips: Vec<IpAddr>,
    /// loadBalancerSourceRanges of this family: when non-empty (and there are LB IPs),
    /// traffic to the LB IPs from elsewhere is dropped.
    pub load_balancer_source_ranges: Vec<IpNet>,
    /// ClientIP affinity timeout; `None`: no affinity.
    pub affinity_timeout_secs: Option<u32>,
    /// NodePort, LoadBalancer or externalIPs.
    pub externally_accessible: bool,
    pub internal_policy: TrafficPolicy,
    /// Cluster unless externally accessible with `externalTrafficPolicy: Local`.
    pub external_policy: TrafficPolicy,
    /// Served only for ETP Local services.
    pub health_check_node_port: Option<u16>,
    /// The endpoints Cluster-policy traffic uses (ready ones, narrowed by topology; the
    /// serving+terminating ones only when no endpoint is ready). Empty when no path uses it.
    pub cluster_endpoints: Vec<Endpoint>,
    /// The endpoints Local-policy traffic uses (this node's ready ones, else its
    /// serving+terminating ones). Empty when no path uses it.
    pub local_endpoints: Vec<Endpoint>,
    /// Whether any usable endpoint exists anywhere in the cluster.
    pub has_endpoints: bool,
}

/// The plans of every service port, updated incrementally from the dirty Services.
#[derive(Debug, Default)]
pub struct Plan {
    ports: BTreeMap<PortKey, PortPlan>,
    by_service: BTreeMap<ServiceName, Vec<PortKey>>,
}

/// One service port whose plan changed: `old` is `None` for a new port, `new` is `None`
/// for a port that is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortChange {
    pub key: PortKey,
    pub old: Option<PortPlan>,
    pub new: Option<PortPlan>,
}

/// An ETP Local service's health check: the answer on its healthCheckNodePort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    pub service: ServiceName,
    pub node_port: u16,
    /// Ready endpoints of the Service on this node (kube-proxy's `localEndpoints`).
    pub local_endpoints: usize,
}

// === impl PortPlan ===

impl PortPlan {
    pub fn protocol(&self) -> podnet_k8s_model::Protocol {
        self.key.name.protocol
    }

    /// Where ClusterIP traffic goes.
    pub fn internal_target(&self) -> Target {
        self.target(self.internal_policy)
    }

    /// Where NodePort, LoadBalancer and externalIP traffic goes (after the short-circuits of
    /// the Local policy, see the module doc).
    pub fn external_target(&self) -> Target {
        self.target(self.external_policy)
    }

    fn target(&self, policy: TrafficPolicy) -> Target {
        if !self.has_endpoints {
            return Target::Reject;
        }
        match policy {
            TrafficPolicy::Cluster if self.cluster_endpoints.is_empty() => Target::Reject,
            TrafficPolicy::Cluster => Target::Cluster,
            TrafficPolicy::Local if self.local_endpoints.is_empty() => Target::Drop,
            TrafficPolicy::Local => Target::Local,
        }
    }

    /// Whether a Cluster-policy endpoint pick must exist (a chain, a virtual server…): some
    /// path leads there, and there is something to pick.
    pub fn uses_cluster_endpoints(&self) -> bool {
        !self.cluster_endpoints.is_empty()
    }

    /// Whether a Local-policy endpoint pick must exist.
    pub fn uses_local_endpoints(&self) -> bool {
        !self.local_endpoints.is_empty()
            && (self.internal_policy == TrafficPolicy::Local
                || self.external_policy == TrafficPolicy::Local)
    }

    /// Whether external traffic needs its own dispatch (the EXT / `external-` chain): the
    /// Service is reachable from outside and has endpoints somewhere.
    pub fn uses_external_dispatch(&self) -> bool {
        self.externally_accessible && self.has_endpoints
    }

    /// Every endpoint some path of this port can reach (each gets its own per-endpoint
    /// object: chain, affinity set…), sorted, without duplicates.
    pub fn reachable_endpoints(&self) -> Vec<&Endpoint> {
        let mut all: Vec<&Endpoint> = self.cluster_endpoints.iter().collect();
        if self.uses_local_endpoints() {
            all.extend(self.local_endpoints.iter());
        }
        all.sort_by_key(|e| e.addr);
        all.dedup_by_key(|e| e.addr);
        all
    }

    /// Every address external traffic arrives on (externalIPs, then LB IPs).
    pub fn external_vips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.external_ips
            .iter()
            .chain(self.load_balancer_ips.iter())
            .copied()
    }

    /// Whether LB IP traffic is filtered by source.
    pub fn uses_firewall(&self) -> bool {
        !self.load_balancer_ips.is_empty() && !self.load_balancer_source_ranges.is_empty()
    }
}

// === impl Plan ===

impl Plan {
    /// Re-plans the Services in `dirty` (present or deleted) and returns the service ports
    /// whose plan actually changed.
    pub fn update(
        &mut self,
        state: &ServiceState,
        node: &NodeInfo,
        dirty: &BTreeSet<ServiceName>,
    ) -> Vec<PortChange> {
        let mut changes = Vec::new();
        for name in dirty {
            let mut old: BTreeMap<PortKey, PortPlan> = BTreeMap::new();
            for key in self.by_service.remove(name).unwrap_or_default() {
                if let Some(p) = self.ports.remove(&key) {
                    old.insert(key, p);
                }
            }
            let new = state
                .service(name)
                .map(|svc| plan_service(svc, state.slices_of(name), node))
                .unwrap_or_default();
            let mut keys = Vec::with_capacity(new.len());
            for plan in new {
                let key = plan.key.clone();
                let before = old.remove(&key);
                if before.as_ref() != Some(&plan) {
                    changes.push(PortChange {
                        key: key.clone(),
                        old: before,
                        new: Some(plan.clone()),
                    });
                }
                keys.push(key.clone());
                self.ports.insert(key, plan);
            }
            if !keys.is_empty() {
                self.by_service.insert(name.clone(), keys);
            }
            for (key, before) in old {
                changes.push(PortChange {
                    key,
                    old: Some(before),
                    new: None,
                });
            }
        }
        changes
    }

    pub fn ports(&self) -> impl Iterator<Item = &PortPlan> {
        self.ports.values()
    }

    pub fn port(&self, key: &PortKey) -> Option<&PortPlan> {
        self.ports.get(key)
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// The health checks to serve: one per ETP Local Service with a healthCheckNodePort.
    pub fn health_checks(&self, node: &NodeInfo) -> Vec<HealthCheck> {
        let mut out: BTreeMap<(ServiceName, u16), BTreeSet<IpAddr>> = BTreeMap::new();
        for p in self.ports.values() {
            let Some(hc) = p.health_check_node_port else {
                continue;
            };
            let ready_here = out.entry((p.key.name.service.clone(), hc)).or_default();
            // Counted from the local endpoints as planned: ready ones when there are any.
            ready_here.extend(
                p.local_endpoints
                    .iter()
                    .filter(|e| e.ready && node.is_local(e.node_name.as_deref()))
                    .map(|e| e.addr.ip()),
            );
        }
        out.into_iter()
            .map(|((service, node_port), ips)| HealthCheck {
                service,
                node_port,
                local_endpoints: ips.len(),
            })
            .collect()
    }
}

/// The plans of one Service's ports, one per port and cluster IP family. ExternalName and
/// headless Services have none.
pub fn plan_service<'a>(
    svc: &Service,
    slices: impl Iterator<Item = &'a podnet_k8s_model::EndpointSliceInfo> + Clone,
    node: &NodeInfo,
) -> Vec<PortPlan> {
    if svc.type_ == ServiceType::ExternalName {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &cluster_ip in &svc.cluster_ips {
        let family = family_of(cluster_ip);
        let of_family = |ips: &[IpAddr]| -> Vec<IpAddr> {
            ips.iter()
                .copied()
                .filter(|ip| family_of(*ip) == family)
                .collect()
        };
        let externally_accessible = svc.externally_accessible();
        let external_policy = if externally_accessible {
            svc.external_traffic_policy
        } else {
            TrafficPolicy::Cluster
        };
        for port in &svc.ports {
            let name = svc.port_name(port);
            let all = endpoints_for_port(slices.clone().filter(|s| s.family == family), &name);
            let mut plan = PortPlan {
                key: PortKey { name, family },
                cluster_ip,
                port: port.port,
                node_port: match svc.type_ {
                    ServiceType::NodePort | ServiceType::LoadBalancer => port.node_port,
                    _ => None,
                },
                external_ips: of_family(&svc.external_ips),
                load_balancer_ips: of_family(&svc.load_balancer_ips),
                load_balancer_source_ranges: svc
                    .load_balancer_source_ranges
                    .iter()
                    .copied()
                    .filter(|n| family_of(n.addr()) == family)
                    .collect(),
                affinity_timeout_secs: match svc.session_affinity {
                    SessionAffinity::None => None,
                    SessionAffinity::ClientIp { timeout_secs } => Some(timeout_secs),
                },
                externally_accessible,
                internal_policy: svc.internal_traffic_policy,
                external_policy,
                health_check_node_port: (external_policy == TrafficPolicy::Local)
                    .then_some(svc.health_check_node_port)
                    .flatten(),
                cluster_endpoints: Vec::new(),
                local_endpoints: Vec::new(),
                has_endpoints: false,
            };
            let c = categorize(&all, &plan, svc.traffic_distribution, node);
            plan.cluster_endpoints = c.cluster;
            plan.local_endpoints = c.local;
            plan.has_endpoints = c.has_any;
            out.push(plan);
        }
    }
    out
}

#[cfg(test)]
mod tests;
