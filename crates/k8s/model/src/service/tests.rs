use super::*;
use serde_json::json;

fn svc(v: serde_json::Value) -> KubeService {
    serde_json::from_value(v).unwrap()
}

#[test]
fn every_proxy_field_is_normalised() {
    let s = svc(json!({
        "metadata": {"namespace": "ns1", "name": "web"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00:96::20"],
            "ports": [
                {"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080},
                {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353, "nodePort": 30053}
            ],
            "externalIPs": ["203.0.113.50"],
            "loadBalancerSourceRanges": ["203.0.113.0/24"],
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "externalTrafficPolicy": "Local",
            "internalTrafficPolicy": "Cluster",
            "healthCheckNodePort": 32000,
            "trafficDistribution": "PreferClose"
        },
        "status": {"loadBalancer": {"ingress": [
            {"ip": "172.18.255.200"},
            {"ip": "172.18.255.201", "ipMode": "Proxy"},
            {"hostname": "lb.example"}
        ]}}
    }));
    let s = Service::from_service(&s).unwrap();
    assert_eq!(s.name.to_string(), "ns1/web");
    assert_eq!(s.type_, ServiceType::LoadBalancer);
    assert_eq!(s.cluster_ips.len(), 2);
    assert_eq!(
        s.load_balancer_ips,
        vec!["172.18.255.200".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        s.external_ips,
        vec!["203.0.113.50".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        s.load_balancer_source_ranges,
        vec!["203.0.113.0/24".parse::<IpNet>().unwrap()]
    );
    assert_eq!(
        s.session_affinity,
        SessionAffinity::ClientIp { timeout_secs: 60 }
    );
    assert_eq!(s.external_traffic_policy, TrafficPolicy::Local);
    assert_eq!(s.internal_traffic_policy, TrafficPolicy::Cluster);
    assert_eq!(s.health_check_node_port, Some(32000));
    assert_eq!(s.traffic_distribution, TrafficDistribution::PreferZone);
    assert!(s.externally_accessible());
    assert_eq!(s.ports[0].target_port, TargetPort::Name("web".into()));
    assert_eq!(s.ports[0].node_port, Some(30080));
    assert_eq!(s.ports[1].protocol, Protocol::Udp);
    assert_eq!(s.ports[1].target_port, TargetPort::Number(5353));
    assert_eq!(s.port_name(&s.ports[0]).to_string(), "ns1/web:http");
}

#[test]
fn defaults_follow_the_api_server() {
    let s = svc(json!({"metadata": {"namespace": "ns1", "name": "a"},
        "spec": {"clusterIP": "10.96.0.5", "ports": [{"port": 8080}],
            "sessionAffinity": "ClientIP"}}));
    let s = Service::from_service(&s).unwrap();
    assert_eq!(s.type_, ServiceType::ClusterIp);
    assert_eq!(s.ports[0].protocol, Protocol::Tcp);
    assert_eq!(s.ports[0].target_port, TargetPort::Number(8080));
    assert_eq!(
        s.session_affinity,
        SessionAffinity::ClientIp {
            timeout_secs: DEFAULT_AFFINITY_TIMEOUT_SECS
        }
    );
    assert!(!s.externally_accessible());
    assert_eq!(
        s.port_name(&s.ports[0]).to_string(),
        "ns1/a",
        "unnamed port: no colon"
    );
}

#[test]
fn headless_has_no_cluster_ip_and_lb_ips_need_type_loadbalancer() {
    let s = svc(json!({"metadata": {"namespace": "n", "name": "h"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}));
    let s = Service::from_service(&s).unwrap();
    assert!(s.cluster_ips.is_empty());
    assert!(s.load_balancer_ips.is_empty());
}

#[test]
fn topology_mode_annotation_means_prefer_zone() {
    let s = svc(json!({"metadata": {"namespace": "n", "name": "t",
        "annotations": {"service.kubernetes.io/topology-mode": "Auto"}},
        "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}}));
    assert_eq!(
        Service::from_service(&s).unwrap().traffic_distribution,
        TrafficDistribution::PreferZone
    );
}

#[test]
fn malformed_fields_are_named() {
    let cases = [
        (
            json!({"clusterIP": "10.96.0.300"}),
            r#"Service "n/x": spec.clusterIP: "10.96.0.300" is not an IP address"#,
        ),
        (
            json!({"ports": [{"port": 80}, {"port": 70000}]}),
            r#"Service "n/x": spec.ports[1].port: "70000" is not a port number"#,
        ),
        (
            json!({"ports": [{"port": 80, "protocol": "ICMP"}]}),
            r#"Service "n/x": spec.ports[0].protocol: "ICMP" is not TCP, UDP or SCTP"#,
        ),
        (
            json!({"externalIPs": ["1.2.3.4", "nope"]}),
            r#"Service "n/x": spec.externalIPs[1]: "nope" is not an IP address"#,
        ),
        (
            json!({"loadBalancerSourceRanges": ["10.0.0.0/40"]}),
            r#"Service "n/x": spec.loadBalancerSourceRanges[0]: "10.0.0.0/40" is not a CIDR"#,
        ),
        (
            json!({"externalTrafficPolicy": "Nearby"}),
            r#"Service "n/x": spec.externalTrafficPolicy: "Nearby" is not Cluster or Local"#,
        ),
        (
            json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}}),
            r#"Service "n/x": spec.sessionAffinityConfig.clientIP.timeoutSeconds: "0" is not between 1 and 86400"#,
        ),
        (
            json!({"type": "Magic"}),
            r#"Service "n/x": spec.type: "Magic" is not ClusterIP, NodePort, LoadBalancer or ExternalName"#,
        ),
    ];
    for (spec, want) in cases {
        let s = svc(json!({"metadata": {"namespace": "n", "name": "x"}, "spec": spec}));
        assert_eq!(Service::from_service(&s).unwrap_err().to_string(), want);
    }
}
