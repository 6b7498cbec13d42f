use serde_json::{Value, json};

use super::*;

fn alloc() -> ServiceAllocator {
    ServiceAllocator::new(
        &["10.96.0.0/16".parse().unwrap()],
        NodePortAllocator::default(),
    )
}

fn dual() -> ServiceAllocator {
    let cidrs = [
        "10.96.0.0/16".parse().unwrap(),
        "fd00:10:96::/112".parse().unwrap(),
    ];
    ServiceAllocator::new(&cidrs, NodePortAllocator::default())
}

fn svc(spec: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec})
}

fn admit(a: &mut ServiceAllocator, v: &mut Value) -> Result<Allocation, Vec<FieldError>> {
    a.admit(None, v)
}

#[test]
fn cluster_ip_service_gets_an_address_and_a_family() {
    let mut a = alloc();
    let mut s = svc(json!({"type": "ClusterIP", "ports": [{"port": 80}]}));
    let got = admit(&mut a, &mut s).unwrap();
    assert_eq!(s["spec"]["clusterIP"], "10.96.1.1");
    assert_eq!(s["spec"]["clusterIPs"], json!(["10.96.1.1"]));
    assert_eq!(s["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(got.taken_ips, vec!["10.96.1.1".parse::<IpAddr>().unwrap()]);
}

#[test]
fn requested_ip_is_honoured_and_a_second_request_is_refused_with_the_servers_wording() {
    let mut a = alloc();
    let mut first = svc(json!({"clusterIP": "10.96.0.10"}));
    let got = admit(&mut a, &mut first).unwrap();
    a.commit(got);
    assert_eq!(first["spec"]["clusterIPs"], json!(["10.96.0.10"]));
    let mut second = svc(json!({"clusterIP": "10.96.0.10"}));
    let errs = admit(&mut a, &mut second).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        r#"spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated"#
    );
}

#[test]
fn out_of_range_ip_is_refused() {
    let mut a = alloc();
    let mut s = svc(json!({"clusterIPs": ["10.100.0.1"]}));
    let errs = admit(&mut a, &mut s).unwrap_err();
    assert_eq!(errs[0].path, "spec.clusterIPs");
    assert!(
        errs[0]
            .detail
            .ends_with("The range of valid IPs is 10.96.0.0/16"),
        "{}",
        errs[0].detail
    );
}

#[test]
fn headless_and_external_name_services_get_no_address() {
    let mut a = alloc();
    let mut headless = svc(json!({"clusterIP": "None"}));
    let got = admit(&mut a, &mut headless).unwrap();
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert!(got.taken_ips.is_empty());
    let mut ext = svc(json!({"type": "ExternalName", "externalName": "example.com"}));
    let got = admit(&mut a, &mut ext).unwrap();
    a.commit(got);
    assert!(ext["spec"].get("clusterIP").is_none());
}

#[test]
fn node_port_service_gets_ports_and_same_numbered_ports_share_one() {
    let mut a = alloc();
    let mut s = svc(json!({"type": "NodePort", "ports": [
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "web", "port": 80, "nodePort": 30080},
    ]}));
    let got = admit(&mut a, &mut s).unwrap();
    let ports = &s["spec"]["ports"];
    assert_eq!(ports[0]["nodePort"], ports[1]["nodePort"]);
    assert_eq!(ports[2]["nodePort"], 30080);
    assert_eq!(got.taken_ports.len(), 2);
}

#[test]
fn taken_and_out_of_range_node_ports_are_refused_and_nothing_stays_taken() {
    let mut a = alloc();
    let mut first = svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}));
    let got = admit(&mut a, &mut first).unwrap();
    a.commit(got);
    let mut s = svc(json!({"type": "NodePort", "ports": [
        {"port": 80, "nodePort": 30080}, {"port": 81, "nodePort": 8080}]}));
    let errs = admit(&mut a, &mut s).unwrap_err();
    let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated",
            "spec.ports[1].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767",
        ]
    );
    // The ClusterIP taken before the port failure was given back.
    assert!(!a.ip_allocators()[0].is_allocated("10.96.1.2".parse().unwrap()));
    assert!(!a.ip_allocators()[0].is_allocated("10.96.1.3".parse().unwrap()));
}

#[test]
fn load_balancer_local_gets_a_health_check_port_unless_node_ports_are_off() {
    let mut a = alloc();
    let mut s = svc(
        json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
    );
    let got = admit(&mut a, &mut s).unwrap();
    a.commit(got);
    assert!(s["spec"]["healthCheckNodePort"].as_u64().is_some());
    let mut off = svc(
        json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]}),
    );
    let got = admit(&mut a, &mut off).unwrap();
    a.commit(got);
    assert!(off["spec"]["ports"][0].get("nodePort").is_none());
}

#[test]
fn rollback_frees_what_the_request_took() {
    let mut a = alloc();
    let mut s = svc(
        json!({"clusterIP": "10.96.0.20", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]}),
    );
    let got = admit(&mut a, &mut s).unwrap();
    a.rollback(got);
    assert!(!a.ip_allocators()[0].is_allocated("10.96.0.20".parse().unwrap()));
    assert!(!a.node_ports().is_allocated(30001));
}

#[test]
fn update_without_allocated_values_keeps_them_and_frees_what_it_gives_up() {
    let mut a = alloc();
    let mut old = svc(
        json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}, {"name": "x", "port": 81}]}),
    );
    let got = admit(&mut a, &mut old).unwrap();
    a.commit(got);
    let ip = old["spec"]["clusterIP"].clone();
    let http_np = old["spec"]["ports"][0]["nodePort"].clone();
    let x_np = old["spec"]["ports"][1]["nodePort"].as_u64().unwrap() as u16;
    // kubectl apply of the original manifest with port x removed.
    let mut new = svc(json!({"type": "NodePort", "ports": [{"name": "http", "port": 80}]}));
    let got = a.admit(Some(&old), &mut new).unwrap();
    assert_eq!(new["spec"]["clusterIP"], ip);
    assert_eq!(new["spec"]["ports"][0]["nodePort"], http_np);
    assert!(got.taken_ips.is_empty() && got.taken_ports.is_empty());
    assert_eq!(got.freed_ports, vec![x_np]);
    a.commit(got);
    assert!(!a.node_ports().is_allocated(x_np));
}

#[test]
fn update_to_external_name_frees_the_address_and_ports() {
    let mut a = alloc();
    let mut old = svc(json!({"type": "NodePort", "ports": [{"port": 80}]}));
    let got = admit(&mut a, &mut old).unwrap();
    a.commit(got);
    let mut new = svc(json!({"type": "ExternalName", "externalName": "example.com"}));
    let got = a.admit(Some(&old), &mut new).unwrap();
    assert_eq!(got.freed_ips.len(), 1);
    assert_eq!(got.freed_ports.len(), 1);
}

#[test]
fn observe_after_a_restart_makes_stored_values_taken_and_release_frees_them() {
    let mut before = alloc();
    let mut s =
        svc(json!({"type": "NodePort", "clusterIP": "10.96.0.30", "ports": [{"port": 80}]}));
    let got = admit(&mut before, &mut s).unwrap();
    before.commit(got);
    let mut after = alloc();
    after.observe(&s);
    let mut again = svc(json!({"clusterIP": "10.96.0.30"}));
    assert!(admit(&mut after, &mut again).is_err());
    after.release(&s);
    let np = s["spec"]["ports"][0]["nodePort"].as_u64().unwrap() as u16;
    assert!(!after.node_ports().is_allocated(np));
    let got = admit(&mut after, &mut again).unwrap();
    after.commit(got);
}

#[test]
fn dual_stack_policies_pick_families() {
    let mut a = dual();
    let mut single = svc(json!({}));
    let got = admit(&mut a, &mut single).unwrap();
    a.commit(got);
    assert_eq!(single["spec"]["ipFamilies"], json!(["IPv4"]));
    let mut prefer = svc(json!({"ipFamilyPolicy": "PreferDualStack"}));
    let got = admit(&mut a, &mut prefer).unwrap();
    a.commit(got);
    assert_eq!(prefer["spec"]["ipFamilies"], json!(["IPv4", "IPv6"]));
    assert_eq!(prefer["spec"]["clusterIPs"].as_array().unwrap().len(), 2);
    let mut v6 = svc(json!({"ipFamilies": ["IPv6"]}));
    let got = admit(&mut a, &mut v6).unwrap();
    a.commit(got);
    assert!(
        v6["spec"]["clusterIP"]
            .as_str()
            .unwrap()
            .starts_with("fd00:10:96::")
    );
}

#[test]
fn single_stack_cluster_refuses_what_it_cannot_give() {
    let mut a = alloc();
    let mut require = svc(json!({"ipFamilyPolicy": "RequireDualStack"}));
    assert_eq!(
        admit(&mut a, &mut require).unwrap_err()[0].path,
        "spec.ipFamilyPolicy"
    );
    let mut v6 = svc(json!({"ipFamilies": ["IPv6"]}));
    let errs = admit(&mut a, &mut v6).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        r#"spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster"#
    );
}
