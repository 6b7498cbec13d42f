//! A Service port's ready endpoints from its EndpointSlices: the route names the Service
//! port (by number or name), the slices carry it under the Service port's name with the
//! target port's number.

use std::net::{IpAddr, SocketAddr};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use podnet_gateway_router::{Backend, ServicePort};

use crate::objects::Objects;

/// The label tying an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The name of the Service port a backend names (`""` for a single unnamed port); `None`
/// when the Service or the port does not exist.
pub(crate) fn service_port_name(svc: &Service, port: &ServicePort) -> Option<String> {
    let ports = svc.spec.as_ref()?.ports.as_ref()?;
    let found = ports.iter().find(|p| match port {
        ServicePort::Number(n) => p.port == i32::from(*n),
        ServicePort::Name(name) => p.name.as_deref() == Some(name.as_str()),
    })?;
    Some(found.name.clone().unwrap_or_default())
}

/// Ready endpoints of a backend, in a stable order; empty when nothing is ready.
pub(crate) fn ready(objects: &Objects, backend: &Backend) -> Vec<SocketAddr> {
    let key = (backend.namespace.clone(), backend.service.clone());
    let Some(port_name) = objects
        .services
        .get(&key)
        .and_then(|svc| service_port_name(svc, &backend.port))
    else {
        return Vec::new();
    };
    let mut out: Vec<SocketAddr> = objects
        .endpoint_slices
        .values()
        .filter(|s| s.metadata.namespace.as_deref() == Some(backend.namespace.as_str()))
        .filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .map(String::as_str)
                == Some(backend.service.as_str())
        })
        .flat_map(|s| slice_addresses(s, &port_name))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn slice_addresses<'s>(
    slice: &'s EndpointSlice,
    port_name: &str,
) -> impl Iterator<Item = SocketAddr> + 's {
    let port = slice
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref().unwrap_or("") == port_name)
        .and_then(|p| p.port)
        .and_then(|p| u16::try_from(p).ok());
    slice
        .endpoints
        .iter()
        .flatten()
        .filter(move |_| port.is_some())
        // Unset `ready` means ready, as kube-proxy reads it.
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .flat_map(|e| e.addresses.iter())
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .map(move |ip| SocketAddr::new(ip, port.unwrap_or(0)))
}
