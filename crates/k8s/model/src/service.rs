//! Services as the service proxy needs them: which virtual addresses and ports exist, how
//! traffic to them is balanced, and which traffic policies apply.

pub(crate) mod port;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service as KubeService;

use crate::error::{Error, Result};

pub use port::{Protocol, ServicePort, ServicePortName, TargetPort};

/// kube-proxy's default ClientIP affinity timeout (three hours), used when the Service
/// does not set `sessionAffinityConfig.clientIP.timeoutSeconds`.
pub const DEFAULT_AFFINITY_TIMEOUT_SECS: u32 = 10_800;

/// The annotation that opts a Service into topology-aware routing before
/// `trafficDistribution` existed.
const TOPOLOGY_MODE_ANNOTATION: &str = "service.kubernetes.io/topology-mode";

/// `namespace/name` of a Service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName {
    pub namespace: String,
    pub name: String,
}

/// `spec.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceType {
    ClusterIp,
    NodePort,
    LoadBalancer,
    /// A DNS alias only: the proxy programs nothing for it.
    ExternalName,
}

/// `spec.externalTrafficPolicy` / `spec.internalTrafficPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TrafficPolicy {
    #[default]
    Cluster,
    Local,
}

/// `spec.sessionAffinity` with its timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SessionAffinity {
    #[default]
    None,
    ClientIp {
        timeout_secs: u32,
    },
}

/// `spec.trafficDistribution` (or the older topology-mode annotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TrafficDistribution {
    #[default]
    Any,
    /// Prefer endpoints in the client node's zone (`PreferClose`, `PreferSameZone`, or the
    /// `service.kubernetes.io/topology-mode: Auto` annotation).
    PreferZone,
    /// Prefer endpoints on the client's own node (`PreferSameNode`).
    PreferNode,
}

/// One Service, normalised. Headless Services (`clusterIP: None`) keep an empty
/// `cluster_ips`: the proxy has nothing to program for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub name: ServiceName,
    pub type_: ServiceType,
    /// `spec.clusterIPs` (or `spec.clusterIP`), primary family first.
    pub cluster_ips: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
    pub external_ips: Vec<IpAddr>,
    /// `status.loadBalancer.ingress[].ip` (only for type LoadBalancer; entries with
    /// `ipMode: Proxy` are left to the load balancer, as kube-proxy does).
    pub load_balancer_ips: Vec<IpAddr>,
    pub load_balancer_source_ranges: Vec<IpNet>,
    pub session_affinity: SessionAffinity,
    pub external_traffic_policy: TrafficPolicy,
    pub internal_traffic_policy: TrafficPolicy,
    pub health_check_node_port: Option<u16>,
    pub traffic_distribution: TrafficDistribution,
}

// === impl ServiceName ===

impl ServiceName {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

// === impl Service ===

impl Service {
    /// Normalises a Service. Every malformed field is an error naming it; fields the proxy
    /// ignores are not looked at.
    pub fn from_service(svc: &KubeService) -> Result<Self> {
        let name = svc
            .metadata
            .name
            .clone()
            .ok_or(Error::Unnamed { kind: "Service" })?;
        let namespace = svc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let name = ServiceName::new(namespace, name);
        let bad = |field: String, value: &str, want: &'static str| Error::Invalid {
            kind: "Service",
            name: name.to_string(),
            field,
            value: value.to_owned(),
            want,
        };
        let spec = svc.spec.clone().unwrap_or_default();
        let type_ = match spec.type_.as_deref().unwrap_or("ClusterIP") {
            "ClusterIP" => ServiceType::ClusterIp,
            "NodePort" => ServiceType::NodePort,
            "LoadBalancer" => ServiceType::LoadBalancer,
            "ExternalName" => ServiceType::ExternalName,
            other => {
                return Err(bad(
                    "spec.type".into(),
                    other,
                    "ClusterIP, NodePort, LoadBalancer or ExternalName",
                ));
            }
        };

        let cluster_ips: Vec<(String, String)> = match &spec.cluster_ips {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, ip)| (format!("spec.clusterIPs[{i}]"), ip.clone()))
                .collect(),
            _ => spec
                .cluster_ip
                .iter()
                .map(|ip| ("spec.clusterIP".to_owned(), ip.clone()))
                .collect(),
        };
        let mut cips = Vec::new();
        for (field, value) in cluster_ips {
            if value == "None" || value.is_empty() {
                continue;
            }
            cips.push(
                value
                    .parse()
                    .map_err(|_| bad(field, &value, "an IP address"))?,
            );
        }

        let ips = |field: &str, list: &Option<Vec<String>>| -> Result<Vec<IpAddr>> {
            let mut out = Vec::new();
            for (i, v) in list.iter().flatten().enumerate() {
                out.push(
                    v.trim()
                        .parse()
                        .map_err(|_| bad(format!("{field}[{i}]"), v, "an IP address"))?,
                );
            }
            Ok(out)
        };
        let external_ips = ips("spec.externalIPs", &spec.external_ips)?;

        let mut load_balancer_ips = Vec::new();
        if type_ == ServiceType::LoadBalancer {
            let ingress = svc
                .status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref());
            for (i, ing) in ingress.into_iter().flatten().enumerate() {
                if ing.ip_mode.as_deref() == Some("Proxy") {
                    continue;
                }
                if let Some(ip) = &ing.ip {
                    let field = format!("status.loadBalancer.ingress[{i}].ip");
                    load_balancer_ips
                        .push(ip.parse().map_err(|_| bad(field, ip, "an IP address"))?);
                }
            }
        }

        let mut load_balancer_source_ranges = Vec::new();
        for (i, v) in spec
            .load_balancer_source_ranges
            .iter()
            .flatten()
            .enumerate()
        {
            let field = format!("spec.loadBalancerSourceRanges[{i}]");
            let net: IpNet = v.trim().parse().map_err(|_| bad(field, v, "a CIDR"))?;
            load_balancer_source_ranges.push(net.trunc());
        }

        let session_affinity = match spec.session_affinity.as_deref().unwrap_or("None") {
            "None" => SessionAffinity::None,
            "ClientIP" => {
                let timeout = spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds);
                let timeout_secs = match timeout {
                    None => DEFAULT_AFFINITY_TIMEOUT_SECS,
                    Some(t) if (1..=86_400).contains(&t) => t as u32,
                    Some(t) => {
                        return Err(bad(
                            "spec.sessionAffinityConfig.clientIP.timeoutSeconds".into(),
                            &t.to_string(),
                            "between 1 and 86400",
                        ));
                    }
                };
                SessionAffinity::ClientIp { timeout_secs }
            }
            other => {
                return Err(bad(
                    "spec.sessionAffinity".into(),
                    other,
                    "None or ClientIP",
                ));
            }
        };

        let policy = |field: &str, v: &Option<String>| -> Result<TrafficPolicy> {
            match v.as_deref() {
                None | Some("Cluster") => Ok(TrafficPolicy::Cluster),
                Some("Local") => Ok(TrafficPolicy::Local),
                Some(other) => Err(bad(field.into(), other, "Cluster or Local")),
            }
        };
        let external_traffic_policy =
            policy("spec.externalTrafficPolicy", &spec.external_traffic_policy)?;
        let internal_traffic_policy =
            policy("spec.internalTrafficPolicy", &spec.internal_traffic_policy)?;

        let health_check_node_port = match spec.health_check_node_port {
            None | Some(0) => None,
            Some(p) => Some(port::port_number(p).ok_or_else(|| {
                bad(
                    "spec.healthCheckNodePort".into(),
                    &p.to_string(),
                    "a port number",
                )
            })?),
        };

        let annotations: &BTreeMap<String, String> =
            &svc.metadata.annotations.clone().unwrap_or_default();
        let traffic_distribution = match spec.traffic_distribution.as_deref() {
            Some("PreferClose" | "PreferSameZone") => TrafficDistribution::PreferZone,
            Some("PreferSameNode") => TrafficDistribution::PreferNode,
            // Unknown values are ignored, as the API server's future values would be.
            _ => match annotations
                .get(TOPOLOGY_MODE_ANNOTATION)
                .map(String::as_str)
            {
                Some("Auto" | "auto") => TrafficDistribution::PreferZone,
                _ => TrafficDistribution::Any,
            },
        };

        let mut ports = Vec::new();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            ports.push(ServicePort::from_port(
                p,
                &format!("spec.ports[{i}]"),
                &bad,
            )?);
        }

        Ok(Self {
            name,
            type_,
            cluster_ips: cips,
            ports,
            external_ips,
            load_balancer_ips,
            load_balancer_source_ranges,
            session_affinity,
            external_traffic_policy,
            internal_traffic_policy,
            health_check_node_port,
            traffic_distribution,
        })
    }

    /// Whether traffic can reach it from outside the cluster (NodePort, LoadBalancer IPs or
    /// externalIPs): only then does `externalTrafficPolicy` mean anything.
    pub fn externally_accessible(&self) -> bool {
        matches!(
            self.type_,
            ServiceType::NodePort | ServiceType::LoadBalancer
        ) || !self.external_ips.is_empty()
    }

    /// The name of each of its ports (`namespace/name:port`, protocol).
    pub fn port_name(&self, port: &ServicePort) -> ServicePortName {
        ServicePortName {
            service: self.name.clone(),
            port: port.name.clone(),
            protocol: port.protocol,
        }
    }
}

#[cfg(test)]
mod tests;
