//! What cluster DNS needs from Services, EndpointSlices, Pods and Namespaces — and nothing
//! more — normalised once, so record synthesis never sees API types.
//!
//! The rules follow the Kubernetes DNS-Based Service Discovery specification and CoreDNS's
//! `kubernetes` plugin: an endpoint is published when its `ready` condition is true or unset
//! (unset means ready, as the API documents), or when its Service sets
//! `publishNotReadyAddresses`; an endpoint's DNS hostname is its `hostname`, else its address
//! with `.`/`:` turned into `-`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::error::{Error, Result};

/// The label that ties an EndpointSlice to its Service.
const SLICE_SERVICE_LABEL: &str = "kubernetes.io/service-name";

/// A Service as DNS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsService {
    pub namespace: String,
    pub name: String,
    pub kind: DnsServiceKind,
    /// `spec.ports`, in order; SRV records exist for the named ones.
    pub ports: Vec<DnsPort>,
    /// `spec.publishNotReadyAddresses`: not-ready endpoints are published too.
    pub publish_not_ready: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsServiceKind {
    /// `spec.clusterIPs` (or `spec.clusterIP`), primary family first.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the records are the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: a CNAME to `spec.externalName` (lower-cased, no trailing dot).
    ExternalName(String),
}

/// A port with what an SRV record needs. `protocol` is lower-case (`tcp`, `udp`, `sctp`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsPort {
    pub name: String,
    pub protocol: String,
    pub port: u16,
}

/// One EndpointSlice's endpoints, attached to its Service by the service-name label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsEndpointSlice {
    pub namespace: String,
    pub name: String,
    /// The `kubernetes.io/service-name` label; a slice without it belongs to no Service.
    pub service: Option<String>,
    /// The slice's ports (target ports: the SRV port of a headless Service, as CoreDNS).
    pub ports: Vec<DnsPort>,
    pub endpoints: Vec<DnsEndpoint>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsEndpoint {
    pub addresses: Vec<IpAddr>,
    /// `hostname` (a DNS label), when set.
    pub hostname: Option<String>,
    /// `targetRef.name` when the target is a Pod (CoreDNS's `endpoint_pod_names`).
    pub pod_name: Option<String>,
    /// `conditions.ready`, with unset read as ready.
    pub ready: bool,
}

/// A Pod as `pods verified` needs it: where it lives and its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsPod {
    pub namespace: String,
    pub name: String,
    pub ips: Vec<IpAddr>,
}

// === impl DnsService ===

impl DnsService {
    pub fn from_service(svc: &Service) -> Result<Self> {
        let (namespace, name) = names("Service", &svc.metadata)?;
        let spec = svc.spec.clone().unwrap_or_default();
        let kind = if spec.type_.as_deref() == Some("ExternalName") {
            let ext = spec.external_name.clone().unwrap_or_default();
            let ext = ext.trim_end_matches('.').to_ascii_lowercase();
            if !is_dns_name(&ext) {
                return Err(invalid(
                    "Service",
                    &name,
                    "spec.externalName",
                    &ext,
                    "a DNS name",
                ));
            }
            DnsServiceKind::ExternalName(ext)
        } else {
            let listed: Vec<(String, &String)> = match spec.cluster_ips.as_ref() {
                Some(ips) if !ips.is_empty() => ips
                    .iter()
                    .enumerate()
                    .map(|(i, ip)| (format!("spec.clusterIPs[{i}]"), ip))
                    .collect(),
                _ => spec
                    .cluster_ip
                    .as_ref()
                    .map(|ip| ("spec.clusterIP".to_owned(), ip))
                    .into_iter()
                    .collect(),
            };
            let mut ips = Vec::new();
            for (field, value) in listed {
                if value.is_empty() || value == "None" {
                    continue;
                }
                let ip = value
                    .parse()
                    .map_err(|_| invalid("Service", &name, &field, value, "an IP address"))?;
                ips.push(ip);
            }
            if ips.is_empty() {
                DnsServiceKind::Headless
            } else {
                DnsServiceKind::ClusterIp(ips)
            }
        };
        let mut ports = Vec::new();
        for (i, p) in spec.ports.iter().flatten().enumerate() {
            ports.push(DnsPort::new(
                "Service",
                &name,
                &format!("spec.ports[{i}]"),
                p.name.as_deref(),
                p.protocol.as_deref(),
                Some(p.port),
            )?);
        }
        Ok(Self {
            namespace,
            name,
            kind,
            ports,
            publish_not_ready: spec.publish_not_ready_addresses.unwrap_or(false),
        })
    }
}

// === impl DnsPort ===

impl DnsPort {
    fn new(
        kind: &'static str,
        object: &str,
        field: &str,
        name: Option<&str>,
        protocol: Option<&str>,
        port: Option<i32>,
    ) -> Result<Self> {
        let number = port.unwrap_or(0);
        let port = u16::try_from(number).map_err(|_| {
            invalid(
                kind,
                object,
                &format!("{field}.port"),
                &number.to_string(),
                "a port number",
            )
        })?;
        Ok(Self {
            name: name.unwrap_or_default().to_ascii_lowercase(),
            protocol: protocol.unwrap_or("TCP").to_ascii_lowercase(),
            port,
        })
    }
}

// === impl DnsEndpointSlice ===

impl DnsEndpointSlice {
    /// Normalises a slice. FQDN slices carry no addresses DNS could publish: they come out
    /// with no endpoints. An address that does not parse is an error naming the field.
    pub fn from_slice(slice: &EndpointSlice) -> Result<Self> {
        let (namespace, name) = names("EndpointSlice", &slice.metadata)?;
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SLICE_SERVICE_LABEL))
            .cloned();
        let mut ports = Vec::new();
        for (i, p) in slice.ports.iter().flatten().enumerate() {
            ports.push(DnsPort::new(
                "EndpointSlice",
                &name,
                &format!("ports[{i}]"),
                p.name.as_deref(),
                p.protocol.as_deref(),
                p.port,
            )?);
        }
        let mut endpoints = Vec::new();
        if slice.address_type != "FQDN" {
            for (i, ep) in slice.endpoints.iter().flatten().enumerate() {
                let mut addresses = Vec::with_capacity(ep.addresses.len());
                for (j, a) in ep.addresses.iter().enumerate() {
                    let ip = a.parse().map_err(|_| {
                        invalid(
                            "EndpointSlice",
                            &name,
                            &format!("endpoints[{i}].addresses[{j}]"),
                            a,
                            "an IP address",
                        )
                    })?;
                    addresses.push(ip);
                }
                let hostname = ep
                    .hostname
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .filter(|h| is_label(h));
                let pod_name = ep
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind.as_deref() == Some("Pod"))
                    .and_then(|r| r.name.as_deref())
                    .map(str::to_ascii_lowercase)
                    .filter(|h| is_label(h));
                let ready = ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
                endpoints.push(DnsEndpoint {
                    addresses,
                    hostname,
                    pod_name,
                    ready,
                });
            }
        }
        Ok(Self {
            namespace,
            name,
            service,
            ports,
            endpoints,
        })
    }
}

// === impl DnsEndpoint ===

impl DnsEndpoint {
    /// The label this endpoint's address is published under: `hostname`, else (with
    /// `endpoint_pod_names`) the Pod's name, else the address with `.` and `:` as `-`.
    pub fn dns_label(&self, ip: IpAddr, pod_names: bool) -> String {
        if let Some(h) = &self.hostname {
            return h.clone();
        }
        if pod_names && let Some(p) = &self.pod_name {
            return p.clone();
        }
        ip_label(ip)
    }
}

/// `10.244.1.5` → `10-244-1-5`, `fd00::1` → `fd00--1` (CoreDNS's form for both endpoints
/// and pod records).
pub fn ip_label(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

// === impl DnsPod ===

impl DnsPod {
    /// `status.podIPs` (or `status.podIP`); a Pod without an address yet has none.
    pub fn from_pod(pod: &Pod) -> Result<Self> {
        let (namespace, name) = names("Pod", &pod.metadata)?;
        let status = pod.status.as_ref();
        let listed: Vec<(String, &String)> = match status.and_then(|s| s.pod_ips.as_ref()) {
            Some(ips) if !ips.is_empty() => ips
                .iter()
                .enumerate()
                .map(|(i, ip)| (format!("status.podIPs[{i}].ip"), &ip.ip))
                .collect(),
            _ => status
                .and_then(|s| s.pod_ip.as_ref())
                .map(|ip| ("status.podIP".to_owned(), ip))
                .into_iter()
                .collect(),
        };
        let mut ips = Vec::new();
        for (field, value) in listed {
            if value.is_empty() {
                continue;
            }
            ips.push(
                value
                    .parse()
                    .map_err(|_| invalid("Pod", &name, &field, value, "an IP address"))?,
            );
        }
        Ok(Self {
            namespace,
            name,
            ips,
        })
    }
}

/// A Namespace's name (DNS publishes `<ns>.svc` and `<ns>.pod` for each existing one).
pub fn namespace_name(ns: &Namespace) -> Result<String> {
    ns.metadata
        .name
        .clone()
        .ok_or(Error::Unnamed { kind: "Namespace" })
}

fn names(
    kind: &'static str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Result<(String, String)> {
    let name = meta.name.clone().ok_or(Error::Unnamed { kind })?;
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    Ok((namespace.to_ascii_lowercase(), name.to_ascii_lowercase()))
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label)
}

fn invalid(kind: &'static str, name: &str, field: &str, value: &str, want: &'static str) -> Error {
    Error::Invalid {
        kind,
        name: name.to_owned(),
        field: field.to_owned(),
        value: value.to_owned(),
        want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from<T: k8s_openapi::serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn cluster_ip_service_with_named_and_unnamed_ports() {
        let s: Service = from(json!({"metadata": {"name": "Web", "namespace": "ns1"},
            "spec": {"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00::20"],
                "ports": [{"name": "HTTP", "port": 80}, {"port": 53, "protocol": "UDP"}]}}));
        let d = DnsService::from_service(&s).unwrap();
        assert_eq!(
            d.name, "web",
            "lower-cased: DNS comparisons are case-insensitive"
        );
        assert_eq!(
            d.kind,
            DnsServiceKind::ClusterIp(vec![
                "10.96.0.20".parse().unwrap(),
                "fd00::20".parse().unwrap()
            ])
        );
        assert_eq!(d.ports[0].name, "http");
        assert_eq!(d.ports[0].protocol, "tcp");
        assert_eq!(d.ports[1].name, "");
        assert_eq!(d.ports[1].protocol, "udp");
    }

    #[test]
    fn headless_and_external_name() {
        let s: Service = from(json!({"metadata": {"name": "h", "namespace": "ns1"},
            "spec": {"clusterIP": "None", "publishNotReadyAddresses": true}}));
        let d = DnsService::from_service(&s).unwrap();
        assert_eq!(d.kind, DnsServiceKind::Headless);
        assert!(d.publish_not_ready);
        let s: Service = from(json!({"metadata": {"name": "e", "namespace": "ns1"},
            "spec": {"type": "ExternalName", "externalName": "WWW.Example.com."}}));
        assert_eq!(
            DnsService::from_service(&s).unwrap().kind,
            DnsServiceKind::ExternalName("www.example.com".into())
        );
    }

    #[test]
    fn bad_cluster_ip_names_the_field() {
        let s: Service = from(json!({"metadata": {"name": "x", "namespace": "ns1"},
            "spec": {"clusterIPs": ["10.96.0.300"]}}));
        let e = DnsService::from_service(&s).unwrap_err().to_string();
        assert!(e.contains("spec.clusterIPs[0]"), "{e}");
    }

    #[test]
    fn slice_endpoints_ready_hostname_and_pod_name() {
        let s: EndpointSlice = from(json!({"metadata": {"name": "h-abc", "namespace": "ns1",
                "labels": {"kubernetes.io/service-name": "h"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.244.1.5"], "hostname": "Pet-0",
                 "targetRef": {"kind": "Pod", "name": "pet-0"}},
                {"addresses": ["10.244.1.6"], "conditions": {"ready": false}}]}));
        let d = DnsEndpointSlice::from_slice(&s).unwrap();
        assert_eq!(d.service.as_deref(), Some("h"));
        assert_eq!(d.ports[0].port, 8080);
        assert_eq!(d.endpoints[0].hostname.as_deref(), Some("pet-0"));
        assert!(d.endpoints[0].ready, "unset ready reads as ready");
        assert!(!d.endpoints[1].ready);
        let ip = d.endpoints[1].addresses[0];
        assert_eq!(d.endpoints[1].dns_label(ip, false), "10-244-1-6");
        assert_eq!(ip_label("fd00::1".parse().unwrap()), "fd00--1");
    }

    #[test]
    fn pod_ips() {
        let p: Pod = from(json!({"metadata": {"name": "p", "namespace": "ns1"},
            "status": {"podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}]}}));
        assert_eq!(DnsPod::from_pod(&p).unwrap().ips.len(), 2);
    }
}
