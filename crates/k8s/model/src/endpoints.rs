//! EndpointSlices as the service proxy needs them: the backends of each service port, with
//! their conditions and topology, the port number resolved per slice.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::discovery::v1::EndpointSlice;

use crate::error::{Error, Result};
use crate::service::port::{parse_protocol, port_number};
use crate::service::{Protocol, ServiceName, ServicePortName};

/// The label the EndpointSlice controller puts on each slice, naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// `addressType` of a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    V4,
    V6,
}

/// One port of a slice: the Service port it serves (by name) and the number it resolved to
/// for every endpoint of this slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlicePort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

/// One endpoint of a slice, its conditions defaulted as the API documents them (an unknown
/// `ready`/`serving` counts as true, an unknown `terminating` as false).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceEndpoint {
    /// The first of `addresses`: the only one consumers use (the API says so).
    pub ip: IpAddr,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    /// `hints.forZones[].name`; `None` when the endpoint carries no zone hints.
    pub hint_zones: Option<Vec<String>>,
    /// `hints.forNodes[].name`; `None` when the endpoint carries no node hints.
    pub hint_nodes: Option<Vec<String>>,
}

/// One EndpointSlice, normalised. Slices of `addressType: FQDN` are not normalised at all
/// (the proxy cannot use them): [`EndpointSliceInfo::from_slice`] returns `Ok(None)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSliceInfo {
    pub namespace: String,
    pub name: String,
    /// From the `kubernetes.io/service-name` label; `None`: not managed for a Service.
    pub service: Option<ServiceName>,
    pub family: AddressFamily,
    pub ports: Vec<SlicePort>,
    pub endpoints: Vec<SliceEndpoint>,
}

/// A backend of one service port: an endpoint of a slice with its resolved port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    pub hint_zones: Option<Vec<String>>,
    pub hint_nodes: Option<Vec<String>>,
}

// === impl EndpointSliceInfo ===

impl EndpointSliceInfo {
    pub fn from_slice(slice: &EndpointSlice) -> Result<Option<Self>> {
        let name = slice.metadata.name.clone().ok_or(Error::Unnamed {
            kind: "EndpointSlice",
        })?;
        let namespace = slice
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let label = format!("{namespace}/{name}");
        let bad = |field: String, value: &str, want: &'static str| Error::Invalid {
            kind: "EndpointSlice",
            name: label.clone(),
            field,
            value: value.to_owned(),
            want,
        };
        let family = match slice.address_type.as_str() {
            "IPv4" => AddressFamily::V4,
            "IPv6" => AddressFamily::V6,
            "FQDN" => return Ok(None),
            other => return Err(bad("addressType".into(), other, "IPv4, IPv6 or FQDN")),
        };
        let service = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
            .map(|svc| ServiceName::new(namespace.clone(), svc.clone()));

        let mut ports = Vec::new();
        for (i, p) in slice.ports.iter().flatten().enumerate() {
            let protocol =
                parse_protocol(p.protocol.as_deref(), &format!("ports[{i}].protocol"), &bad)?;
            // A slice port without a number means "no port resolved": nothing to forward to.
            let Some(n) = p.port else { continue };
            let port = port_number(n)
                .ok_or_else(|| bad(format!("ports[{i}].port"), &n.to_string(), "a port number"))?;
            ports.push(SlicePort {
                name: p.name.clone().unwrap_or_default(),
                protocol,
                port,
            });
        }

        let mut endpoints = Vec::new();
        for (i, ep) in slice.endpoints.iter().flatten().enumerate() {
            let Some(first) = ep.addresses.first() else {
                continue;
            };
            let ip: IpAddr = first.parse().map_err(|_| {
                bad(
                    format!("endpoints[{i}].addresses[0]"),
                    first,
                    "an IP address",
                )
            })?;
            let want_family = match family {
                AddressFamily::V4 => ip.is_ipv4(),
                AddressFamily::V6 => ip.is_ipv6(),
            };
            if !want_family {
                return Err(bad(
                    format!("endpoints[{i}].addresses[0]"),
                    first,
                    "an address of the slice's addressType",
                ));
            }
            let cond = ep.conditions.clone().unwrap_or_default();
            let hints = ep.hints.as_ref();
            endpoints.push(SliceEndpoint {
                ip,
                ready: cond.ready.unwrap_or(true),
                serving: cond.serving.unwrap_or(true),
                terminating: cond.terminating.unwrap_or(false),
                node_name: ep.node_name.clone(),
                zone: ep.zone.clone(),
                hint_zones: hints
                    .and_then(|h| h.for_zones.as_ref())
                    .map(|z| z.iter().map(|z| z.name.clone()).collect()),
                hint_nodes: hints
                    .and_then(|h| h.for_nodes.as_ref())
                    .map(|n| n.iter().map(|n| n.name.clone()).collect()),
            });
        }
        Ok(Some(Self {
            namespace,
            name,
            service,
            family,
            ports,
            endpoints,
        }))
    }
}

/// The backends of `port` across `slices` (the slices of its Service): each slice resolves
/// the port by name and protocol to its own number (a named targetPort may differ per pod).
/// Sorted by address; an address listed twice (a pod moving between slices) counts once,
/// the ready copy winning.
pub fn endpoints_for_port<'a>(
    slices: impl IntoIterator<Item = &'a EndpointSliceInfo>,
    port: &ServicePortName,
) -> Vec<Endpoint> {
    let mut out: BTreeMap<SocketAddr, Endpoint> = BTreeMap::new();
    for slice in slices {
        let Some(sp) = slice
            .ports
            .iter()
            .find(|p| p.name == port.port && p.protocol == port.protocol)
        else {
            continue;
        };
        for ep in &slice.endpoints {
            let addr = SocketAddr::new(ep.ip, sp.port);
            let candidate = Endpoint {
                addr,
                ready: ep.ready,
                serving: ep.serving,
                terminating: ep.terminating,
                node_name: ep.node_name.clone(),
                zone: ep.zone.clone(),
                hint_zones: ep.hint_zones.clone(),
                hint_nodes: ep.hint_nodes.clone(),
            };
            match out.get(&addr) {
                Some(existing) if existing.ready || !candidate.ready => {}
                _ => {
                    out.insert(addr, candidate);
                }
            }
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests;
