//! `podnet agent` killed with SIGKILL under traffic, in each proxy mode: the rules stay in
//! the kernel, so connections established through a Service and to pods keep flowing while
//! no agent runs, and a restarted agent adopts the rules without a gap — new connections
//! probed back to back across the kill and the restart's first syncs, none may fail.
//! The real binary runs in the node namespace of podnet-test-util's proxy topology (three
//! netexec pods, an outside client), watching an in-process API server on its loopback.

#[path = "agent/support.rs"]
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use podnet_test_util::proxy_topology::{NODE_IP, Topology, pod_ip};
use serde_json::json;
use support::{API, Agent, eventually, kube_proxy_table, write_kubeconfig};

const CIP: &str = "10.96.0.60";

/// One keep-alive HTTP connection from inside a namespace, asked `/hostname` on demand.
struct KeptConnection(TcpStream);

impl KeptConnection {
    fn open(ns: &Path, to: SocketAddr) -> Self {
        let stream = podnet_netns::run_in(ns, move || TcpStream::connect(to))
            .expect("run in netns")
            .expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        KeptConnection(stream)
    }

    fn hostname(&mut self) -> String {
        ask(&mut self.0).unwrap_or_else(|e| panic!("the kept connection broke: {e}"))
    }
}

/// One `GET /hostname` on `stream`: the body.
fn ask(stream: &mut TcpStream) -> std::io::Result<String> {
    stream.write_all(b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf)?;
    let text = String::from_utf8_lossy(&buf[..n]);
    Ok(text.rsplit("\r\n\r\n").next().unwrap_or("").to_owned())
}

/// New connections to `to` from inside `ns`, back to back until `stop`: (sent, failures).
fn probe(ns: PathBuf, to: SocketAddr, stop: Arc<AtomicBool>) -> (u64, Vec<String>) {
    podnet_netns::run_in(&ns, move || {
        let (mut sent, mut failures) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            sent += 1;
            let answer =
                TcpStream::connect_timeout(&to, Duration::from_secs(2)).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(2)))?;
                    ask(&mut s)
                });
            match answer {
                Ok(h) if h.starts_with("pod-") => {}
                other => failures.push(format!("probe {sent}: {other:?}")),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (sent, failures)
    })
    .expect("run in netns")
}

#[test]
fn kernel_agent_killed_under_traffic_keeps_connections_and_restarts_without_a_gap() {
    podnet_test_util::sweep_leftovers();
    let topo = Topology::new("agent-kill", 3);
    // The node's uplink (see the proxy's kernel tests): its own connections need a route.
    topo.node.exec(&[
        "ip",
        "route",
        "replace",
        "default",
        "via",
        podnet_test_util::proxy_topology::CLIENT_IP,
    ]);
    let dir = tempfile::tempdir().unwrap();
    write_kubeconfig(dir.path());
    let dir_path = dir.path().to_owned();
    podnet_netns::run_in(topo.node.path(), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario(&topo, &dir_path))
    })
    .unwrap();
}

async fn scenario(topo: &Topology, dir: &Path) {
    let listener = tokio::net::TcpListener::bind(API).await.unwrap();
    let state = dir.join("state");
    // The API server runs on this thread's runtime until the test ends.
    tokio::spawn(async move {
        podnet_apiserver::serve(listener, &state, std::future::pending::<()>())
            .await
            .unwrap();
    });
    let client =
        kube::Client::try_from(kube::Config::new(format!("http://{API}").parse().unwrap()))
            .unwrap();
    create_cluster(&client).await;

    for mode in ["nftables", "iptables"] {
        let agent = Agent::start(&topo.node, dir, mode);
        let programmed = |t: &Topology| match mode {
            "nftables" => kube_proxy_table(&t.node).contains("default/web:http"),
            _ => {
                let (_, nat, _) =
                    t.node
                        .try_exec(&["iptables", "-t", "nat", "-S", "KUBE-SERVICES"]);
                nat.contains("default/web:http")
            }
        };
        eventually(&format!("{mode}: the Service programmed"), &agent, || {
            programmed(topo)
        })
        .await;
        // Programmed is not yet answering from the client: the first probe waits for it.
        eventually(&format!("{mode}: the Service answers"), &agent, || {
            Topology::curl(&topo.client, &format!("http://{CIP}/hostname")).is_ok()
        })
        .await;
        kill_and_restart_under_traffic(topo, dir, mode, agent).await;
    }
}

async fn kill_and_restart_under_traffic(topo: &Topology, dir: &Path, mode: &str, agent: Agent) {
    let service: SocketAddr = format!("{CIP}:80").parse().unwrap();
    let pod: SocketAddr = format!("{}:8080", pod_ip(3)).parse().unwrap();
    let mut through_service = KeptConnection::open(topo.client.path(), service);
    let mut to_pod = KeptConnection::open(topo.pods[0].path(), pod);
    let backend = through_service.hostname();
    assert_eq!(to_pod.hostname(), "pod-3");

    let stop = Arc::new(AtomicBool::new(false));
    let probes = {
        let (ns, stop) = (topo.client.path().to_owned(), stop.clone());
        std::thread::spawn(move || probe(ns, service, stop))
    };
    let mut agent = agent;
    agent.child.kill().expect("SIGKILL");
    agent.child.wait().expect("reaped");

    // No agent runs: the kernel keeps forwarding on its own.
    assert_eq!(
        through_service.hostname(),
        backend,
        "{mode}: through the Service"
    );
    assert_eq!(to_pod.hostname(), "pod-3", "{mode}: to a pod");

    let mut agent = Agent::start(&topo.node, dir, mode);
    // The restart's first full sync and one periodic resync (--resync 2) after it.
    eventually(
        &format!("{mode}: the restarted agent synced twice"),
        &agent,
        || agent.log().matches("proxy rules synced").count() >= 2,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let (sent, failures) = probes.join().expect("probe thread");
    assert!(sent > 0);
    assert!(
        failures.is_empty(),
        "{mode}: {} of {sent} new connections failed across the kill and restart: {failures:?}\n{}",
        failures.len(),
        agent.log()
    );
    assert_eq!(
        through_service.hostname(),
        backend,
        "{mode}: after the restart"
    );
    assert_eq!(to_pod.hostname(), "pod-3", "{mode}: after the restart");
    eprintln!("{mode}: {sent} new connections across SIGKILL and restart, 0 failed");
    assert!(agent.stop().success(), "{}", agent.log());
}

/// node-1 (the topology's node) and Service `web` on pods 1 and 2.
async fn create_cluster(client: &kube::Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "node-1"},
        "spec": {"podCIDR": "10.244.1.0/24"}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {"addresses": [{"type": "InternalIP", "address": NODE_IP}]}});
    nodes
        .patch_status("node-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web"},
        "spec": {"clusterIP": CIP, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    let endpoints: Vec<_> = [1, 2]
        .iter()
        .map(|i| {
            json!({"addresses": [pod_ip(*i).to_string()], "nodeName": "node-1",
            "conditions": {"ready": true}})
        })
        .collect();
    let slice: EndpointSlice = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": "web-abc",
            "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap();
    Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &slice)
        .await
        .unwrap();
}
