//! A small cluster for the layers' tests: two nodes, a client pod, a NodePort Service `web`
//! with one endpoint per node, the cluster DNS with one pod; each test breaks one thing.
//!
//! | node   | node IP    | pod CIDR       | pods                                  |
//! |--------|------------|----------------|---------------------------------------|
//! | node-1 | 172.18.0.2 | 10.244.1.0/24  | default/client .10, default/web-1 .5  |
//! | node-2 | 172.18.0.3 | 10.244.2.0/24  | default/web-2 .6, kube-system/dns-1 .3 |
//!
//! `web`: 10.96.0.20:80 → 8080 (named `http`), nodePort 30080; `kube-dns`: 10.96.0.10:53.

use serde_json::{Value, json};

use crate::objects::Objects;

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid fixture object")
}

pub fn node(name: &str, ip: &str, cidr: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}]}
    })
}

pub fn pod(ns: &str, name: &str, node: &str, ip: &str, labels: Value) -> Value {
    json!({
        "metadata": {"namespace": ns, "name": name, "labels": labels},
        "spec": {"nodeName": node, "containers": [{
            "name": "main",
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}
        }]},
        "status": {"phase": "Running", "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0,
                "image": "x", "imageID": "", "state": {"running": {}}}]}
    })
}

pub fn endpoint(ip: &str, node: &str, pod: &str, ready: bool) -> Value {
    json!({"addresses": [ip], "nodeName": node, "conditions": {"ready": ready},
           "targetRef": {"kind": "Pod", "name": pod}})
}

/// The healthy cluster.
pub fn cluster() -> Objects {
    let web = || json!({"app": "web"});
    Objects {
        nodes: vec![
            parse(node("node-1", "172.18.0.2", "10.244.1.0/24")),
            parse(node("node-2", "172.18.0.3", "10.244.2.0/24")),
        ],
        namespaces: ["default", "kube-system"]
            .iter()
            .map(|n| {
                parse(
                    json!({"metadata": {"name": n, "labels": {"kubernetes.io/metadata.name": n}}}),
                )
            })
            .collect(),
        pods: vec![
            parse(pod(
                "default",
                "client",
                "node-1",
                "10.244.1.10",
                json!({"app": "client"}),
            )),
            parse(pod("default", "web-1", "node-1", "10.244.1.5", web())),
            parse(pod("default", "web-2", "node-2", "10.244.2.6", web())),
            parse(pod(
                "kube-system",
                "dns-1",
                "node-2",
                "10.244.2.3",
                json!({"k8s-app": "kube-dns"}),
            )),
        ],
        services: vec![
            parse(json!({
                "metadata": {"namespace": "default", "name": "web"},
                "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                    "selector": {"app": "web"}, "externalTrafficPolicy": "Cluster",
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http", "nodePort": 30080}]}
            })),
            parse(json!({
                "metadata": {"namespace": "kube-system", "name": "kube-dns"},
                "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                    "selector": {"k8s-app": "kube-dns"},
                    "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                              {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}
            })),
        ],
        slices: vec![
            parse(json!({
                "metadata": {"namespace": "default", "name": "web-abc",
                    "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "IPv4",
                "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
                "endpoints": [endpoint("10.244.1.5", "node-1", "web-1", true),
                              endpoint("10.244.2.6", "node-2", "web-2", true)]
            })),
            parse(json!({
                "metadata": {"namespace": "kube-system", "name": "kube-dns-xyz",
                    "labels": {"kubernetes.io/service-name": "kube-dns"}},
                "addressType": "IPv4",
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                          {"name": "dns-tcp", "port": 53, "protocol": "TCP"}],
                "endpoints": [endpoint("10.244.2.3", "node-2", "dns-1", true)]
            })),
        ],
        policies: Vec::new(),
    }
}

pub fn policy(v: Value) -> k8s_openapi::api::networking::v1::NetworkPolicy {
    parse(v)
}

/// Sets every endpoint of slice `name` not ready and the pods' containers unready.
pub fn unready(objects: &mut Objects, slice: &str) {
    let s = objects
        .slices
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some(slice))
        .expect("the fixture's slice");
    let mut ips = Vec::new();
    for e in s.endpoints.iter_mut().flatten() {
        e.conditions.get_or_insert_default().ready = Some(false);
        ips.extend(e.addresses.clone());
    }
    for p in &mut objects.pods {
        let st = p.status.get_or_insert_default();
        if st.pod_ip.as_ref().is_some_and(|ip| ips.contains(ip)) {
            for c in st.container_statuses.iter_mut().flatten() {
                c.ready = false;
            }
        }
    }
}

/// The fixture cluster plus `n` more Services `svc-i` (10.96.100.0 + i, port 80), each with
/// one ready endpoint: a cluster of thousands for timing the walk.
pub fn with_services(n: u32) -> Objects {
    let mut o = cluster();
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 96, 100, 0)) + i);
        let name = format!("svc-{i}");
        o.services.push(parse(json!({
            "metadata": {"namespace": "default", "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": ip.to_string(), "clusterIPs": [ip.to_string()],
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}
        })));
        o.slices.push(parse(json!({
            "metadata": {"namespace": "default", "name": format!("{name}-x"),
                "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
            "endpoints": [endpoint("10.244.1.5", "node-1", "web-1", true)]
        })));
    }
    o
}
