//! Each layer's findings on the fixture cluster, healthy and broken one way at a time.

use serde_json::json;

use crate::fixture::{cluster, policy, unready};
use crate::{Destination, LayerName, Objects, Options, Report, Spec, Verdict, trace};

fn run(objects: &Objects, src: &str, dst: &str) -> Report {
    trace(
        objects,
        &Spec::parse(src).unwrap(),
        &Destination::parse(dst).unwrap(),
        &Options::default(),
    )
    .unwrap()
}

fn broken_at(r: &Report, layer: LayerName) -> String {
    let b = r
        .broken()
        .unwrap_or_else(|| panic!("expected a broken layer:\n{r}"));
    assert_eq!(b.layer, layer, "{r}");
    b.evidence.join("\n")
}

fn healthy(r: &Report) {
    assert!(r.broken().is_none(), "{r}");
    assert_eq!(r.layers.last().unwrap().layer, LayerName::Return, "{r}");
}

#[test]
fn pod_to_service_by_svc_reaches_both_endpoints_with_equal_chance() {
    let r = run(&cluster(), "default/client", "svc/default/web");
    healthy(&r);
    let proxy = r.layer(LayerName::Proxy).unwrap().evidence.join("\n");
    assert!(proxy.contains("DNAT to 10.244.1.5:8080 p=1/2"), "{r}");
    assert!(proxy.contains("DNAT to 10.244.2.6:8080 p=1/2"), "{r}");
    let routing = r.layer(LayerName::Routing).unwrap().evidence.join("\n");
    assert!(
        routing.contains("10.244.1.5 is on node node-1 itself"),
        "{r}"
    );
    assert!(
        routing.contains("route 10.244.2.0/24 via 10.244.2.0 dev"),
        "{r}"
    );
    assert!(routing.contains("FDB"), "{r}");
    let back = r.layer(LayerName::Return).unwrap().evidence.join("\n");
    assert!(back.contains("un-DNATs its source to 10.96.0.20:80"), "{r}");
}

#[test]
fn pod_to_service_by_short_dns_name_uses_the_search_path() {
    let r = run(&cluster(), "default/client", "web:80");
    healthy(&r);
    let dns = r.layer(LayerName::Dns).unwrap();
    assert_eq!(dns.verdict, Verdict::Ok);
    let ev = dns.evidence.join("\n");
    assert!(
        ev.contains("server 10.96.0.10 (kube-system/kube-dns)"),
        "{r}"
    );
    assert!(
        ev.contains("web.default.svc.cluster.local: 10.96.0.20"),
        "{r}"
    );
}

#[test]
fn a_name_that_does_not_exist_lists_every_expansion_tried() {
    let r = run(&cluster(), "default/client", "nope:80");
    let ev = broken_at(&r, LayerName::Dns);
    for tried in [
        "nope.default.svc.cluster.local: NXDOMAIN",
        "nope.svc.cluster.local: NXDOMAIN",
        "nope.cluster.local: NXDOMAIN",
    ] {
        assert!(ev.contains(tried), "{tried}:\n{r}");
    }
}

#[test]
fn pod_to_pod_across_nodes_routes_through_the_overlay() {
    let r = run(&cluster(), "default/client", "default/web-2:8080");
    healthy(&r);
    let proxy = r.layer(LayerName::Proxy).unwrap().evidence.join("\n");
    assert!(proxy.contains("not a Service address: no DNAT"), "{r}");
    let routing = r.layer(LayerName::Routing).unwrap().evidence.join("\n");
    assert!(routing.contains("overlay MTU 1450"), "{r}");
}

#[test]
fn outside_to_node_port_is_masqueraded_under_cluster_policy() {
    let r = run(&cluster(), "203.0.113.10", "node-2:30080");
    healthy(&r);
    let entry = r.layer(LayerName::Entry).unwrap();
    assert_eq!(entry.verdict, Verdict::Ok, "{r}");
    let back = r.layer(LayerName::Return).unwrap().evidence.join("\n");
    assert!(back.contains("masqueraded to node node-2's address"), "{r}");
}

#[test]
fn selector_mismatch_names_the_pod_that_almost_matches() {
    let mut o = cluster();
    for p in &mut o.pods {
        if p.metadata.name.as_deref().unwrap().starts_with("web-") {
            p.metadata.labels = Some([("app".to_owned(), "Web".to_owned())].into());
        }
    }
    let r = run(&o, "default/client", "svc/default/web:80");
    let ev = broken_at(&r, LayerName::Endpoints);
    assert!(
        ev.contains("selector app=web matches no pod in namespace default"),
        "{r}"
    );
    assert!(ev.contains("pod web-1 has app=Web (almost)"), "{r}");
    assert!(
        !ev.contains("pod client"),
        "app=client is not almost app=web:\n{r}"
    );
}

#[test]
fn failing_readiness_names_the_probe() {
    let mut o = cluster();
    unready(&mut o, "web-abc");
    let r = run(&o, "default/client", "svc/default/web:80");
    let ev = broken_at(&r, LayerName::Endpoints);
    assert!(ev.contains("default/web has no ready endpoint"), "{r}");
    assert!(
        ev.contains("endpoint 10.244.1.5:8080 (pod default/web-1 on node-1) not ready: readiness probe failing (httpGet :8080/ready)"),
        "{r}"
    );
}

#[test]
fn a_deny_all_policy_names_itself_and_the_connection() {
    let mut o = cluster();
    o.policies.push(policy(json!({
        "metadata": {"namespace": "default", "name": "deny-all"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    })));
    let r = run(&o, "default/client", "svc/default/web:80");
    let ev = broken_at(&r, LayerName::Policy);
    assert!(
        ev.contains("denied: pod default/web-1 is selected by policy default/deny-all (ingress) and no policy allows default/client → default/web-1:8080/TCP"),
        "{r}"
    );
}

#[test]
fn dns_pods_down_break_dns_before_any_name_is_tried() {
    let mut o = cluster();
    unready(&mut o, "kube-dns-xyz");
    let r = run(&o, "default/client", "web:80");
    let ev = broken_at(&r, LayerName::Dns);
    assert!(
        ev.contains("kube-system/kube-dns has no ready endpoint"),
        "{r}"
    );
}

#[test]
fn a_policy_blocking_dns_egress_breaks_dns() {
    let mut o = cluster();
    o.policies.push(policy(json!({
        "metadata": {"namespace": "default", "name": "no-egress"},
        "spec": {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]}
    })));
    let r = run(&o, "default/client", "web:80");
    let ev = broken_at(&r, LayerName::Dns);
    assert!(ev.contains("blocked by policy"), "{r}");
    assert!(
        ev.contains("selected by policy default/no-egress (egress)"),
        "{r}"
    );
}

#[test]
fn node_port_under_local_policy_on_a_node_without_endpoint_is_dropped() {
    let mut o = cluster();
    o.services[0].spec.as_mut().unwrap().external_traffic_policy = Some("Local".into());
    o.slices[0].endpoints.as_mut().unwrap().truncate(1);
    let r = run(&o, "203.0.113.10", "node-2:30080");
    let ev = broken_at(&r, LayerName::Entry);
    assert!(
        ev.contains("no ready endpoint of default/web on node node-2"),
        "{r}"
    );
    assert!(ev.contains("ready endpoints on: node-1"), "{r}");
    let ok = run(&o, "203.0.113.10", "node-1:30080");
    healthy(&ok);
}

#[test]
fn a_service_without_endpoints_is_rejected_by_the_proxy_rules_too() {
    let mut o = cluster();
    o.services[0].spec.as_mut().unwrap().selector = None;
    o.slices.remove(0);
    let r = run(&o, "default/client", "svc/default/web:80");
    let ev = broken_at(&r, LayerName::Endpoints);
    assert!(
        ev.contains("no EndpointSlice of default/web lists an endpoint"),
        "{r}"
    );
}

#[test]
fn a_cluster_ip_from_outside_is_explained() {
    let r = run(&cluster(), "203.0.113.10", "10.96.0.20:80");
    let ev = broken_at(&r, LayerName::Entry);
    assert!(ev.contains("only reachable inside the cluster"), "{r}");
}

#[test]
fn a_wrong_port_lists_the_service_ports() {
    let r = run(&cluster(), "default/client", "svc/default/web:81");
    let ev = broken_at(&r, LayerName::Endpoints);
    assert!(
        ev.contains("default/web has no port 81/TCP (ports: 80/TCP, nodePort 30080)"),
        "{r}"
    );
}

#[test]
fn json_names_layers_and_verdicts() {
    let r = run(&cluster(), "default/client", "svc/default/web:80");
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["layers"][0]["layer"], "dns");
    assert_eq!(v["layers"][0]["verdict"], "not-applicable");
    assert_eq!(v["layers"][3]["layer"], "proxy");
    assert_eq!(v["layers"][3]["verdict"], "ok");
}

#[test]
fn pod_to_another_nodes_node_port_is_translated_on_that_node() {
    let r = run(&cluster(), "default/client", "node-2:30080");
    healthy(&r);
    let proxy = r.layer(LayerName::Proxy).unwrap().evidence.join("\n");
    assert!(proxy.starts_with("node node-2:"), "{r}");
}
