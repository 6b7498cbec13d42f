//! `podnet agent` as the service proxy, end to end: the real binary inside a node namespace,
//! watching an API server (in-process, on the node's loopback) through kube-rs; Services
//! and EndpointSlices created and deleted, the kernel, /healthz, /metrics (and where each
//! listens) and the healthCheckNodePort checked to follow; mode switches and the ipvs refusal.

#[path = "agent/support.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use podnet_test_util::Netns;
use serde_json::json;
use support::{API, Agent, eventually, kube_proxy_table, write_kubeconfig};

/// `curl -s -w ' %{http_code}'` inside `ns`: (status, body).
fn get(ns: &Netns, url: &str) -> (u16, String) {
    let (_, out, _) = ns.try_exec(&["curl", "-s", "--max-time", "2", "-w", " %{http_code}", url]);
    let (body, code) = out.rsplit_once(' ').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn objects() -> (Service, EndpointSlice) {
    let svc = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.50", "externalTrafficPolicy": "Local",
            "healthCheckNodePort": 32080, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .unwrap();
    let slice = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web-abc",
            "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["10.244.1.7"], "nodeName": "node-1",
            "conditions": {"ready": true}}]
    }))
    .unwrap();
    (svc, slice)
}

#[test]
fn kernel_agent_proxy_follows_services_serves_health_and_switches_modes() {
    podnet_test_util::sweep_leftovers();
    let ns = Netns::new("proxy-agent");
    let dir = tempfile::tempdir().unwrap();
    write_kubeconfig(dir.path());
    let dir_path = dir.path().to_owned();
    podnet_netns::run_in(ns.path(), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario(&ns, &dir_path))
    })
    .unwrap();
}

async fn scenario(ns: &Netns, dir: &Path) {
    let listener = tokio::net::TcpListener::bind(API).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = dir.join("state");
    let server = tokio::spawn(async move {
        podnet_apiserver::serve(listener, &state, async {
            let _ = stop_rx.await;
        })
        .await
        .unwrap();
    });
    let client =
        kube::Client::try_from(kube::Config::new(format!("http://{API}").parse().unwrap()))
            .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "node-1",
        "labels": {"topology.kubernetes.io/zone": "zone-a"}},
        "spec": {"podCIDR": "10.244.1.0/24"}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status =
        json!({"status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}});
    nodes
        .patch_status("node-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let (svc, slice) = objects();
    let svc = services.create(&PostParams::default(), &svc).await.unwrap();
    slices.create(&PostParams::default(), &slice).await.unwrap();
    let hc_port = svc
        .spec
        .as_ref()
        .and_then(|s| s.health_check_node_port)
        .expect("healthCheckNodePort kept");

    let mut agent = Agent::start(ns, dir, "nftables");
    eventually("the Service programmed", &agent, || {
        let t = kube_proxy_table(ns);
        t.contains("default/web:http") && t.contains("dnat to 10.244.1.7:8080")
    })
    .await;
    eventually("/healthz answers 200 after a sync", &agent, || {
        let (code, body) = get(ns, "http://127.0.0.1:10256/healthz");
        code == 200 && body.contains("\"lastUpdated\":\"20")
    })
    .await;
    let (code, metrics) = get(ns, "http://127.0.0.1:10249/metrics");
    assert_eq!(code, 200);
    // kube-proxy's split: /healthz on every address (load balancers probe nodes there),
    // /metrics on loopback only (a pod reaches the node's address, never its loopback).
    let (ok, address, _) = ns.try_exec(&["ip", "addr", "add", "198.51.100.2/32", "dev", "lo"]);
    assert!(ok, "{address}");
    assert_eq!(get(ns, "http://198.51.100.2:10256/healthz").0, 200);
    assert_eq!(
        get(ns, "http://198.51.100.2:10249/metrics").0,
        0,
        "metrics refused on the node's address"
    );
    assert_eq!(get(ns, "http://127.0.0.1:10256/metrics").0, 404);
    for want in [
        "kubeproxy_sync_proxy_rules_duration_seconds_count",
        "kubeproxy_sync_proxy_rules_last_timestamp_seconds 1",
        "podnet_proxy_mode_info{mode=\"nftables\"} 1",
    ] {
        assert!(metrics.contains(want), "{want}:\n{metrics}");
    }
    let hc_url = format!("http://127.0.0.1:{hc_port}/healthz");
    eventually("the health check says 1 local endpoint", &agent, || {
        let (code, body) = get(ns, &hc_url);
        code == 200 && body.contains("\"localEndpoints\":1")
    })
    .await;

    // The endpoint moves to another node: 503, zero local endpoints.
    let moved = json!({"endpoints": [{"addresses": ["10.244.2.7"], "nodeName": "node-2",
        "conditions": {"ready": true}}]});
    slices
        .patch("web-abc", &PatchParams::default(), &Patch::Merge(&moved))
        .await
        .unwrap();
    eventually("the health check says 503", &agent, || {
        let (code, body) = get(ns, &hc_url);
        code == 503 && body.contains("\"localEndpoints\":0")
    })
    .await;

    // A deleted Service leaves nothing, and its health check stops.
    services
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the Service's rules gone", &agent, || {
        let t = kube_proxy_table(ns);
        t.contains("table ip kube-proxy") && !t.contains("default/web")
    })
    .await;
    eventually("the health check server stopped", &agent, || {
        get(ns, &hc_url).0 == 0
    })
    .await;
    assert!(agent.stop().success(), "{}", agent.log());

    // Switching to iptables removes the nftables mode's table.
    let (svc, _) = objects();
    services.create(&PostParams::default(), &svc).await.unwrap();
    let mut agent = Agent::start(ns, dir, "iptables");
    eventually(
        "iptables mode programs KUBE-SERVICES, nftables' table gone",
        &agent,
        || {
            let (_, nat, _) = ns.try_exec(&["iptables", "-t", "nat", "-S", "KUBE-SERVICES"]);
            nat.contains("default/web:http") && kube_proxy_table(ns).is_empty()
        },
    )
    .await;
    assert!(agent.stop().success(), "{}", agent.log());

    // A restarted agent in the same mode keeps the rules while it cannot reach the API
    // server: nothing is removed before its first sync.
    let _ = stop_tx.send(());
    server.await.unwrap();
    let mut agent = Agent::start(ns, dir, "iptables");
    eventually("the new agent's proxy to start", &agent, || {
        agent.log().contains("service proxy started")
    })
    .await;
    let (_, nat, _) = ns.try_exec(&["iptables", "-t", "nat", "-S"]);
    for want in [
        "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
        "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
        "default/web:http",
    ] {
        assert!(
            nat.contains(want),
            "{want}: the rules outlive the restart:\n{nat}\n{}",
            agent.log()
        );
    }
    assert!(agent.stop().success(), "{}", agent.log());

    // ipvs is refused at start, naming what the kernel lacks.
    let mut agent = Agent::start(ns, dir, "ipvs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = agent.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ipvs mode must be refused at start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let log = agent.log();
    assert!(
        log.to_lowercase().contains("ipvs") && log.contains("ip_vs"),
        "{log}"
    );
}
