use super::*;
use serde_json::json;

fn slice(v: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(v).unwrap()
}

fn web_slice(name: &str, port: u16, ips: &[(&str, serde_json::Value)]) -> EndpointSliceInfo {
    let endpoints: Vec<_> = ips
        .iter()
        .map(|(ip, cond)| json!({"addresses": [ip], "conditions": cond, "nodeName": "node-1", "zone": "a"}))
        .collect();
    EndpointSliceInfo::from_slice(&slice(json!({
        "metadata": {"namespace": "ns1", "name": name,
            "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    })))
    .unwrap()
    .unwrap()
}

#[test]
fn named_target_port_resolves_per_slice() {
    let a = web_slice("web-a", 8080, &[("10.244.1.2", json!({}))]);
    let b = web_slice("web-b", 9090, &[("10.244.1.3", json!({"ready": false}))]);
    assert_eq!(a.service, Some(ServiceName::new("ns1", "web")));
    let port = ServicePortName::new("ns1", "web", "http", Protocol::Tcp);
    let eps = endpoints_for_port([&a, &b], &port);
    let addrs: Vec<String> = eps.iter().map(|e| e.addr.to_string()).collect();
    assert_eq!(addrs, ["10.244.1.2:8080", "10.244.1.3:9090"]);
    assert!(
        eps[0].ready && eps[0].serving && !eps[0].terminating,
        "absent conditions default"
    );
    assert!(!eps[1].ready);
    assert_eq!(eps[0].zone.as_deref(), Some("a"));
    // Another protocol or port name finds nothing.
    let udp = ServicePortName::new("ns1", "web", "http", Protocol::Udp);
    assert!(endpoints_for_port([&a, &b], &udp).is_empty());
}

#[test]
fn a_duplicate_address_counts_once_ready_wins() {
    let a = web_slice("web-a", 80, &[("10.244.1.2", json!({"ready": false}))]);
    let b = web_slice("web-b", 80, &[("10.244.1.2", json!({"ready": true}))]);
    let port = ServicePortName::new("ns1", "web", "http", Protocol::Tcp);
    let eps = endpoints_for_port([&a, &b], &port);
    assert_eq!(eps.len(), 1);
    assert!(eps[0].ready);
}

#[test]
fn conditions_and_hints() {
    let s = EndpointSliceInfo::from_slice(&slice(json!({
        "metadata": {"namespace": "ns1", "name": "s"},
        "addressType": "IPv6",
        "ports": [{"port": 80}],
        "endpoints": [{"addresses": ["fd00::2"],
            "conditions": {"ready": false, "serving": true, "terminating": true},
            "hints": {"forZones": [{"name": "z1"}], "forNodes": [{"name": "n1"}]}}]
    })))
    .unwrap()
    .unwrap();
    assert_eq!(s.service, None);
    assert_eq!(s.family, AddressFamily::V6);
    let e = &s.endpoints[0];
    assert!(!e.ready && e.serving && e.terminating);
    assert_eq!(e.hint_zones, Some(vec!["z1".to_owned()]));
    assert_eq!(e.hint_nodes, Some(vec!["n1".to_owned()]));
}

#[test]
fn fqdn_slices_are_skipped_and_bad_fields_named() {
    let fqdn = slice(
        json!({"metadata": {"namespace": "n", "name": "f"}, "addressType": "FQDN", "endpoints": []}),
    );
    assert_eq!(EndpointSliceInfo::from_slice(&fqdn).unwrap(), None);
    let bad = slice(
        json!({"metadata": {"namespace": "n", "name": "b"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["fd00::1"]}]}),
    );
    assert_eq!(
        EndpointSliceInfo::from_slice(&bad).unwrap_err().to_string(),
        r#"EndpointSlice "n/b": endpoints[0].addresses[0]: "fd00::1" is not an address of the slice's addressType"#
    );
    let bad_port = slice(
        json!({"metadata": {"namespace": "n", "name": "b"}, "addressType": "IPv4",
        "ports": [{"port": 0}], "endpoints": []}),
    );
    assert_eq!(
        EndpointSliceInfo::from_slice(&bad_port)
            .unwrap_err()
            .to_string(),
        r#"EndpointSlice "n/b": ports[0].port: "0" is not a port number"#
    );
}
