//! Fixtures for tests of every proxy mode: builders with closures over the model types,
//! with fixed address conventions, and one set of Services covering every feature (the
//! golden tests of each mode render the same set).
//!
//! Conventions: this node is `node-1` (zone `zone-a`, node IP 172.18.0.2), the cluster CIDR
//! is 10.244.0.0/16 (node-1's pods in 10.244.1.0/24, node-2's in 10.244.2.0/24), ClusterIPs
//! in 10.96.0.0/16.

use std::net::IpAddr;

use podnet_k8s_model::{
    AddressFamily, EndpointSliceInfo, Protocol, Service, ServiceName, ServicePort, ServiceType,
    SessionAffinity, SliceEndpoint, SlicePort, TargetPort, TrafficDistribution, TrafficPolicy,
};

use crate::node::NodeInfo;

pub const NODE: &str = "node-1";
pub const OTHER_NODE: &str = "node-2";

pub fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("fixture address {s:?}"))
}

/// `node-1`, zone `zone-a`, 172.18.0.2, cluster CIDR 10.244.0.0/16.
pub fn node() -> NodeInfo {
    NodeInfo {
        name: NODE.into(),
        zone: Some("zone-a".into()),
        node_ips: vec![ip("172.18.0.2")],
        cluster_cidrs: vec!["10.244.0.0/16".parse().expect("cidr")],
    }
}

/// A ClusterIP Service with one TCP port `p80` (80 → 8080), edited by `f`.
pub fn service(ns: &str, name: &str, cluster_ip: &str, f: impl FnOnce(&mut Service)) -> Service {
    let mut s = Service {
        name: ServiceName::new(ns, name),
        type_: ServiceType::ClusterIp,
        cluster_ips: vec![ip(cluster_ip)],
        ports: vec![port("p80", Protocol::Tcp, 80, None)],
        external_ips: Vec::new(),
        load_balancer_ips: Vec::new(),
        load_balancer_source_ranges: Vec::new(),
        session_affinity: SessionAffinity::None,
        external_traffic_policy: TrafficPolicy::Cluster,
        internal_traffic_policy: TrafficPolicy::Cluster,
        health_check_node_port: None,
        traffic_distribution: TrafficDistribution::Any,
    };
    f(&mut s);
    s
}

/// A Service port `name` forwarding to target port 8080 (`port` for UDP's 53 → 53).
pub fn port(name: &str, protocol: Protocol, port: u16, node_port: Option<u16>) -> ServicePort {
    ServicePort {
        name: name.into(),
        protocol,
        port,
        node_port,
        target_port: TargetPort::Name(name.into()),
    }
}

/// The slice `<svc>-<n>` of Service `ns/svc` with one port `p80` → 8080, edited by `f`.
pub fn slice(
    ns: &str,
    svc: &str,
    n: u32,
    endpoints: Vec<SliceEndpoint>,
    f: impl FnOnce(&mut EndpointSliceInfo),
) -> EndpointSliceInfo {
    let family = match endpoints.first().map(|e| e.ip) {
        Some(IpAddr::V6(_)) => AddressFamily::V6,
        _ => AddressFamily::V4,
    };
    let mut s = EndpointSliceInfo {
        namespace: ns.into(),
        name: format!("{svc}-{n}"),
        service: Some(ServiceName::new(ns, svc)),
        family,
        ports: vec![slice_port("p80", Protocol::Tcp, 8080)],
        endpoints,
    };
    f(&mut s);
    s
}

pub fn slice_port(name: &str, protocol: Protocol, port: u16) -> SlicePort {
    SlicePort {
        name: name.into(),
        protocol,
        port,
    }
}

/// A ready endpoint on `node`.
pub fn endpoint(addr: &str, node: &str) -> SliceEndpoint {
    SliceEndpoint {
        ip: ip(addr),
        ready: true,
        serving: true,
        terminating: false,
        node_name: Some(node.into()),
        zone: Some(if node == NODE { "zone-a" } else { "zone-b" }.into()),
        hint_zones: None,
        hint_nodes: None,
    }
}

/// A terminating endpoint that still serves.
pub fn terminating(addr: &str, node: &str) -> SliceEndpoint {
    SliceEndpoint {
        ready: false,
        terminating: true,
        ..endpoint(addr, node)
    }
}

/// One Service per feature, with its slices: the fixture every mode's golden test renders.
pub fn every_feature() -> (Vec<Service>, Vec<EndpointSliceInfo>) {
    let three = || {
        vec![
            endpoint("10.244.1.2", NODE),
            endpoint("10.244.1.3", NODE),
            endpoint("10.244.2.2", OTHER_NODE),
        ]
    };
    let services = vec![
        // Plain ClusterIP, three endpoints.
        service("ns1", "cluster", "10.96.0.11", |_| {}),
        // Two ports, one UDP, named target ports resolved per slice.
        service("ns1", "dns", "10.96.0.10", |s| {
            s.ports = vec![
                port("dns", Protocol::Udp, 53, None),
                port("dns-tcp", Protocol::Tcp, 53, None),
            ];
        }),
        // No endpoints: reject.
        service("ns1", "empty", "10.96.0.12", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30012);
            s.external_ips = vec![ip("203.0.113.12")];
        }),
        // ClientIP affinity.
        service("ns1", "sticky", "10.96.0.13", |s| {
            s.session_affinity = SessionAffinity::ClientIp { timeout_secs: 60 };
        }),
        // NodePort + externalIP, Cluster policy.
        service("ns1", "nodeport", "10.96.0.14", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30014);
            s.external_ips = vec![ip("203.0.113.14")];
        }),
        // LoadBalancer, ETP Local, source ranges, health check.
        service("ns1", "lb-local", "10.96.0.15", |s| {
            s.type_ = ServiceType::LoadBalancer;
            s.ports[0].node_port = Some(30015);
            s.load_balancer_ips = vec![ip("172.18.255.200")];
            s.load_balancer_source_ranges = vec!["203.0.113.0/24".parse().expect("cidr")];
            s.external_traffic_policy = TrafficPolicy::Local;
            s.health_check_node_port = Some(32015);
        }),
        // ETP Local with no endpoint on this node: external traffic dropped here.
        service("ns1", "local-elsewhere", "10.96.0.16", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30016);
            s.external_traffic_policy = TrafficPolicy::Local;
            s.health_check_node_port = Some(32016);
        }),
        // ITP Local.
        service("ns1", "internal-local", "10.96.0.17", |s| {
            s.internal_traffic_policy = TrafficPolicy::Local;
        }),
        // Only terminating endpoints left: they are used.
        service("ns1", "terminating", "10.96.0.18", |_| {}),
        // PreferClose: only zone-a's endpoints.
        service("ns1", "prefer-close", "10.96.0.19", |s| {
            s.traffic_distribution = TrafficDistribution::PreferZone;
        }),
        // Headless and ExternalName: nothing to program.
        service("ns1", "headless", "10.96.0.20", |s| s.cluster_ips.clear()),
        service("ns1", "alias", "10.96.0.21", |s| {
            s.type_ = ServiceType::ExternalName
        }),
    ];
    let slices = vec![
        slice("ns1", "cluster", 1, three(), |_| {}),
        slice(
            "ns1",
            "dns",
            1,
            vec![
                endpoint("10.244.1.10", NODE),
                endpoint("10.244.2.10", OTHER_NODE),
            ],
            |s| {
                s.ports = vec![
                    slice_port("dns", Protocol::Udp, 53),
                    slice_port("dns-tcp", Protocol::Tcp, 5353),
                ];
            },
        ),
        slice("ns1", "sticky", 1, three(), |_| {}),
        slice("ns1", "nodeport", 1, three(), |_| {}),
        slice("ns1", "lb-local", 1, three(), |_| {}),
        slice(
            "ns1",
            "local-elsewhere",
            1,
            vec![endpoint("10.244.2.16", OTHER_NODE)],
            |_| {},
        ),
        slice("ns1", "internal-local", 1, three(), |_| {}),
        slice(
            "ns1",
            "terminating",
            1,
            vec![
                terminating("10.244.1.18", NODE),
                SliceEndpoint {
                    serving: false,
                    ..terminating("10.244.2.18", OTHER_NODE)
                },
            ],
            |_| {},
        ),
        slice("ns1", "prefer-close", 1, three(), |_| {}),
    ];
    (services, slices)
}
