use serde_json::json;

use super::*;

const NODE: &str = "kind-worker";

/// A LoadBalancer Service `ns1/<name>` holding `ips`, with `etp` as its traffic policy.
fn lb(name: &str, ips: &[&str], etp: &str) -> Service {
    let ingress: Vec<_> = ips.iter().map(|ip| json!({"ip": ip})).collect();
    let svc = serde_json::from_value(json!({
        "metadata": {"namespace": "ns1", "name": name},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20",
            "externalTrafficPolicy": etp,
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]},
        "status": {"loadBalancer": {"ingress": ingress}},
    }))
    .unwrap();
    Service::from_service(&svc).unwrap()
}

/// An EndpointSlice of `ns1/<service>` with one endpoint on `node`.
fn slice(service: &str, node: &str, ready: bool) -> EndpointSliceInfo {
    let slice = serde_json::from_value(json!({
        "metadata": {"namespace": "ns1", "name": format!("{service}-{node}"),
            "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": node,
            "conditions": {"ready": ready}}],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }))
    .unwrap();
    EndpointSliceInfo::from_slice(&slice).unwrap().unwrap()
}

fn shown(a: &Announcements) -> Vec<String> {
    a.to_string().lines().map(str::to_owned).collect()
}

#[test]
fn cluster_policy_addresses_are_announced_from_every_node() {
    let a = announcements(
        NODE,
        None,
        &[lb("web", &["172.18.255.200"], "Cluster")],
        &[],
    );
    assert_eq!(
        shown(&a),
        ["announce 172.18.255.200/32  # LoadBalancer ns1/web"]
    );
}

#[test]
fn local_policy_addresses_only_from_nodes_with_a_ready_endpoint() {
    let svcs = [lb("web", &["172.18.255.201"], "Local")];
    let elsewhere = [slice("web", "kind-worker2", true)];
    assert!(
        announcements(NODE, None, &svcs, &elsewhere)
            .routes
            .is_empty()
    );
    let not_ready = [slice("web", NODE, false)];
    assert!(
        announcements(NODE, None, &svcs, &not_ready)
            .routes
            .is_empty()
    );
    let here = [slice("web", NODE, true)];
    assert_eq!(
        shown(&announcements(NODE, None, &svcs, &here)),
        ["announce 172.18.255.201/32  # LoadBalancer ns1/web"]
    );
}

#[test]
fn the_pod_cidr_is_announced_when_given_and_ipv6_addresses_are_not() {
    let a = announcements(
        NODE,
        Some("10.244.1.0/24".parse().unwrap()),
        &[lb("dual", &["172.18.255.202", "2001:db8::1"], "Cluster")],
        &[],
    );
    assert_eq!(
        shown(&a),
        [
            "announce 10.244.1.0/24  # pod CIDR",
            "announce 172.18.255.202/32  # LoadBalancer ns1/dual"
        ]
    );
}

#[test]
fn services_sharing_an_address_make_one_announcement() {
    let a = announcements(
        NODE,
        None,
        &[
            lb("dns-tcp", &["172.18.255.203"], "Cluster"),
            lb("dns-udp", &["172.18.255.203"], "Cluster"),
        ],
        &[],
    );
    assert_eq!(
        shown(&a),
        ["announce 172.18.255.203/32  # LoadBalancer ns1/dns-tcp, ns1/dns-udp"]
    );
    assert_eq!(a.prefixes().len(), 1);
}

#[test]
fn a_service_without_an_address_yet_announces_nothing() {
    assert!(
        announcements(NODE, None, &[lb("web", &[], "Cluster")], &[])
            .routes
            .is_empty()
    );
}

#[test]
fn a_node_excluded_from_load_balancers_keeps_only_its_pod_cidr() {
    let a = announcements(
        NODE,
        Some("10.244.1.0/24".parse().unwrap()),
        &[lb("web", &["172.18.255.204"], "Cluster")],
        &[],
    );
    assert_eq!(
        shown(&a.pod_cidr_only()),
        ["announce 10.244.1.0/24  # pod CIDR"]
    );
}
