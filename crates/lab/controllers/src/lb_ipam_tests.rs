use super::*;

fn service(value: serde_json::Value) -> Service {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_service_is_read_with_its_class_request_ports_and_status() {
    let svc = service(json!({
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"},
            "annotations": {"lbipam.podnet.io/sharing-key": "k"}},
        "spec": {"type": "LoadBalancer", "loadBalancerIP": "172.18.255.210",
            "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.210"}, {"hostname": "x"}]}},
    }));
    let lb = lb_service(&svc);
    assert_eq!(lb.key, "ns/web");
    assert!(lb.is_served());
    assert_eq!(lb.load_balancer_ip.as_deref(), Some("172.18.255.210"));
    assert_eq!(lb.ports, [("TCP".to_owned(), 80), ("UDP".to_owned(), 53)]);
    assert_eq!(lb.status_ips, ["172.18.255.210".parse::<IpAddr>().unwrap()]);
}

#[test]
fn the_condition_is_set_once_and_changed_only_when_it_says_something_new() {
    let svc = service(json!({
        "metadata": {"name": "web", "namespace": "ns"},
        "status": {"conditions": [{"type": "Other", "status": "True", "reason": "R",
            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]},
    }));
    let conditions = with_condition(&svc, "False", "PoolExhausted", "full").unwrap();
    assert_eq!(conditions.len(), 2);
    let mut with_ours = svc.clone();
    with_ours.status.as_mut().unwrap().conditions = Some(conditions);
    assert_eq!(
        with_condition(&with_ours, "False", "PoolExhausted", "full"),
        None
    );
    let changed = with_condition(&with_ours, "True", "Allocated", "ok").unwrap();
    assert_eq!(changed.len(), 2);
    assert_eq!(changed[1].reason, "Allocated");
}
