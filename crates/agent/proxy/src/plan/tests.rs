use super::*;
use crate::fixture::{self, NODE, OTHER_NODE, endpoint, ip, node, service, slice, terminating};
use podnet_k8s_model::{Protocol, TrafficDistribution};

fn plan_of(svc: Service, slices: Vec<podnet_k8s_model::EndpointSliceInfo>) -> PortPlan {
    let mut plans = plan_service(&svc, slices.iter(), &node());
    assert_eq!(plans.len(), 1);
    plans.remove(0)
}

fn addrs(eps: &[Endpoint]) -> Vec<String> {
    eps.iter().map(|e| e.addr.to_string()).collect()
}

fn three() -> Vec<podnet_k8s_model::SliceEndpoint> {
    vec![
        endpoint("10.244.1.2", NODE),
        endpoint("10.244.1.3", NODE),
        endpoint("10.244.2.2", OTHER_NODE),
    ]
}

#[test]
fn cluster_policy_uses_every_ready_endpoint() {
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |_| {}),
        vec![slice("ns1", "a", 1, three(), |_| {})],
    );
    assert_eq!(
        addrs(&p.cluster_endpoints),
        ["10.244.1.2:8080", "10.244.1.3:8080", "10.244.2.2:8080"]
    );
    assert!(p.local_endpoints.is_empty());
    assert_eq!(p.internal_target(), Target::Cluster);
    assert!(!p.uses_external_dispatch());
}

#[test]
fn no_endpoint_rejects_every_path() {
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30001);
        }),
        vec![],
    );
    assert!(!p.has_endpoints);
    assert_eq!(p.internal_target(), Target::Reject);
    assert_eq!(p.external_target(), Target::Reject);
    assert!(!p.uses_external_dispatch());
}

#[test]
fn terminating_endpoints_only_when_none_is_ready() {
    let eps = vec![
        terminating("10.244.1.5", NODE),
        endpoint("10.244.2.5", OTHER_NODE),
    ];
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |_| {}),
        vec![slice("ns1", "a", 1, eps, |_| {})],
    );
    assert_eq!(addrs(&p.cluster_endpoints), ["10.244.2.5:8080"]);

    let mut not_serving = terminating("10.244.2.6", OTHER_NODE);
    not_serving.serving = false;
    let eps = vec![terminating("10.244.1.5", NODE), not_serving];
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |_| {}),
        vec![slice("ns1", "a", 1, eps, |_| {})],
    );
    assert_eq!(
        addrs(&p.cluster_endpoints),
        ["10.244.1.5:8080"],
        "serving+terminating only"
    );
    assert!(p.has_endpoints);
}

#[test]
fn external_local_uses_this_nodes_endpoints_and_drops_without_one() {
    let nodeport = |s: &mut Service| {
        s.type_ = ServiceType::NodePort;
        s.ports[0].node_port = Some(30001);
        s.external_traffic_policy = TrafficPolicy::Local;
        s.health_check_node_port = Some(32001);
    };
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", nodeport),
        vec![slice("ns1", "a", 1, three(), |_| {})],
    );
    assert_eq!(
        addrs(&p.local_endpoints),
        ["10.244.1.2:8080", "10.244.1.3:8080"]
    );
    assert_eq!(
        p.cluster_endpoints.len(),
        3,
        "pods short-circuit to all endpoints"
    );
    assert_eq!(p.external_target(), Target::Local);
    assert_eq!(p.internal_target(), Target::Cluster);
    assert_eq!(p.health_check_node_port, Some(32001));

    let p = plan_of(
        service("ns1", "a", "10.96.0.1", nodeport),
        vec![slice(
            "ns1",
            "a",
            1,
            vec![endpoint("10.244.2.2", OTHER_NODE)],
            |_| {},
        )],
    );
    assert_eq!(p.external_target(), Target::Drop);
    assert_eq!(p.internal_target(), Target::Cluster);
    assert!(
        p.uses_external_dispatch(),
        "pod and node traffic still short-circuit"
    );
}

#[test]
fn etp_local_on_a_clusterip_service_means_nothing() {
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |s| {
            s.external_traffic_policy = TrafficPolicy::Local;
            s.health_check_node_port = Some(32001);
        }),
        vec![slice("ns1", "a", 1, three(), |_| {})],
    );
    assert_eq!(p.external_policy, TrafficPolicy::Cluster);
    assert_eq!(p.health_check_node_port, None);
    assert!(p.local_endpoints.is_empty());
}

#[test]
fn internal_local_without_a_local_endpoint_drops_clusterip_traffic() {
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", |s| {
            s.internal_traffic_policy = TrafficPolicy::Local;
        }),
        vec![slice(
            "ns1",
            "a",
            1,
            vec![endpoint("10.244.2.2", OTHER_NODE)],
            |_| {},
        )],
    );
    assert!(p.has_endpoints);
    assert!(
        p.cluster_endpoints.is_empty(),
        "no path uses Cluster endpoints"
    );
    assert_eq!(p.internal_target(), Target::Drop);
}

#[test]
fn prefer_close_keeps_this_zone_and_falls_back_to_all() {
    let prefer = |s: &mut Service| s.traffic_distribution = TrafficDistribution::PreferZone;
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", prefer),
        vec![slice("ns1", "a", 1, three(), |_| {})],
    );
    assert_eq!(
        addrs(&p.cluster_endpoints),
        ["10.244.1.2:8080", "10.244.1.3:8080"]
    );

    let p = plan_of(
        service("ns1", "a", "10.96.0.1", prefer),
        vec![slice(
            "ns1",
            "a",
            1,
            vec![endpoint("10.244.2.2", OTHER_NODE)],
            |_| {},
        )],
    );
    assert_eq!(
        addrs(&p.cluster_endpoints),
        ["10.244.2.2:8080"],
        "none in zone: all"
    );

    // Hints, when the controller gives them, win over the endpoint's own zone.
    let mut eps = three();
    for e in &mut eps {
        e.hint_zones = Some(vec!["zone-b".into()]);
    }
    eps[0].hint_zones = Some(vec!["zone-a".into()]);
    let p = plan_of(
        service("ns1", "a", "10.96.0.1", prefer),
        vec![slice("ns1", "a", 1, eps, |_| {})],
    );
    assert_eq!(addrs(&p.cluster_endpoints), ["10.244.1.2:8080"]);
}

#[test]
fn dual_stack_plans_one_port_per_family() {
    let svc = service("ns1", "a", "10.96.0.1", |s| {
        s.cluster_ips.push(ip("fd00:96::1"));
    });
    let v6 = slice("ns1", "a", 2, vec![endpoint("fd00:244::2", NODE)], |_| {});
    let slices = [slice("ns1", "a", 1, three(), |_| {}), v6];
    let plans = plan_service(&svc, slices.iter(), &node());
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1].key.family, AddressFamily::V6);
    assert_eq!(addrs(&plans[1].cluster_endpoints), ["[fd00:244::2]:8080"]);
}

#[test]
fn update_reports_only_ports_that_changed() {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node(), &dirty);
    assert_eq!(
        changes.len(),
        11,
        "every port of every proxied Service, once"
    );
    assert!(changes.iter().all(|c| c.old.is_none()));

    // One endpoint of one Service goes away.
    let svc = ServiceName::new("ns1", "cluster");
    let mut s = state.slices_of(&svc).next().unwrap().clone();
    s.endpoints.pop();
    assert!(state.upsert_slice(s.clone()));
    assert!(!state.upsert_slice(s), "a no-op update marks nothing");
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node(), &dirty);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key.name.to_string(), "ns1/cluster:p80");
    assert_eq!(changes[0].new.as_ref().unwrap().cluster_endpoints.len(), 2);

    // The Service goes: its ports go.
    state.remove_service(&svc);
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node(), &dirty);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].new.is_none());
    assert!(plan.port(&changes[0].key).is_none());
}

#[test]
fn health_checks_count_ready_local_endpoints() {
    let (services, slices) = fixture::every_feature();
    let mut state = ServiceState::default();
    state.replace_all(services, slices);
    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    plan.update(&state, &node(), &dirty);
    let hc = plan.health_checks(&node());
    let got: Vec<(String, u16, usize)> = hc
        .iter()
        .map(|h| (h.service.to_string(), h.node_port, h.local_endpoints))
        .collect();
    assert_eq!(
        got,
        [
            ("ns1/lb-local".into(), 32015, 2),
            ("ns1/local-elsewhere".into(), 32016, 0)
        ]
    );
}

#[test]
fn stale_udp_flows_for_a_gone_endpoint_and_a_first_endpoint() {
    use podnet_conntrack::Filter;
    let dns = |eps| {
        plan_of(
            service("ns1", "dns", "10.96.0.10", |s| {
                s.ports = vec![fixture::port("dns", Protocol::Udp, 53, None)];
            }),
            vec![slice("ns1", "dns", 1, eps, |s| {
                s.ports = vec![fixture::slice_port("dns", Protocol::Udp, 53)];
            })],
        )
    };
    let two = dns(vec![
        endpoint("10.244.1.10", NODE),
        endpoint("10.244.2.10", OTHER_NODE),
    ]);
    let one = dns(vec![endpoint("10.244.1.10", NODE)]);
    let none = dns(vec![]);
    let change = |old: &PortPlan, new: &PortPlan| PortChange {
        key: old.key.clone(),
        old: Some(old.clone()),
        new: Some(new.clone()),
    };
    assert_eq!(
        crate::stale_flows(&change(&two, &one)),
        [Filter::Nat {
            proto: "udp",
            service_ip: ip("10.96.0.10"),
            endpoint_ip: ip("10.244.2.10")
        }]
    );
    assert_eq!(
        crate::stale_flows(&change(&none, &one)),
        [Filter::ToAddr {
            proto: "udp",
            ip: ip("10.96.0.10"),
            port: Some(53)
        }]
    );
    assert!(crate::stale_flows(&change(&one, &one)).is_empty());
}
