//! Normalised intent: what the Kubernetes objects say, in podnet's own types, validated once.
//!
//! This crate and the client are the only ones that see `k8s_openapi` types; everything that
//! renders desired state (routes, rulesets, records) works from the types here, so it can be
//! tested without an API server and reads the same whether the objects came from a real
//! cluster or the lab.

mod dns;
mod endpoints;
mod error;
mod node;
mod service;

pub use dns::{
    DnsEndpoint, DnsEndpointSlice, DnsPod, DnsPort, DnsService, DnsServiceKind, ip_label,
    namespace_name,
};
pub use endpoints::{
    AddressFamily, Endpoint, EndpointSliceInfo, SERVICE_NAME_LABEL, SliceEndpoint, SlicePort,
    endpoints_for_port,
};
pub use error::{Error, Result};
pub use node::{
    EXCLUDE_FROM_EXTERNAL_LOAD_BALANCERS, NodeIp, NodeRoute, excluded_from_external_load_balancers,
};
pub use service::{
    DEFAULT_AFFINITY_TIMEOUT_SECS, Protocol, Service, ServiceName, ServicePort, ServicePortName,
    ServiceType, SessionAffinity, TargetPort, TrafficDistribution, TrafficPolicy,
};
