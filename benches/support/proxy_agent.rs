//! A real `podnet agent` as the service proxy against an API server holding `n` Services ×
//! 3 endpoints: its process's memory once it has programmed them all (VmHWM: the peak,
//! which the initial lists and the first sync set; VmRSS: what it keeps afterwards).
//!
//! The API server runs in this process, on the loopback of a namespace the bench creates;
//! the agent runs in that namespace (`ip netns exec`), as in tests/proxy_agent.rs.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use podnet_test_util::Netns;
use serde_json::json;

const API: &str = "127.0.0.1:6443";
/// Concurrent creates while filling the API server.
const CREATORS: usize = 16;

/// The agent's memory, in KiB, and how long it took from its start to all Services
/// programmed.
pub struct AgentMemory {
    pub hwm_kib: u64,
    pub rss_kib: u64,
    pub programmed_after: Duration,
}

/// `addr(k)`: the kth address of a flat range starting at 10.`first_octet`.0.0.
fn addr(first_octet: u32, k: u32) -> String {
    format!(
        "10.{}.{}.{}",
        first_octet + (k >> 16),
        (k >> 8) & 255,
        k & 255
    )
}

fn service(i: u32) -> Service {
    // Past 10.96.0.0/24: the network address and the well-known ClusterIPs stay free.
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": format!("svc-{i}")},
        "spec": {"clusterIP": addr(96, i + 256),
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    }))
    .expect("a Service")
}

fn slice(i: u32) -> EndpointSlice {
    let endpoints: Vec<_> = (0..3)
        .map(|k| {
            json!({"addresses": [addr(200, i * 3 + k)], "nodeName": "node-1",
                "conditions": {"ready": true}})
        })
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": "bench", "name": format!("svc-{i}-abc"),
            "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }))
    .expect("an EndpointSlice")
}

/// Runs the measurement for `mode` (`nftables`, `iptables`) with `n` Services.
pub fn agent_memory(mode: &str, n: u32) -> AgentMemory {
    let ns = Netns::new("bench-agent");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "b", "cluster": {"server": format!("http://{API}")}}],
        "users": [{"name": "b", "user": {}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
        "current-context": "b",
    });
    std::fs::write(dir.path().join("kubeconfig"), config.to_string()).expect("kubeconfig");
    let dir_path = dir.path().to_owned();
    let mode = mode.to_owned();
    podnet_netns::run_in(ns.path(), || {
        // Threads started here stay in the namespace (they inherit it from this one).
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(measure(&ns, &dir_path, &mode, n))
    })
    .expect("netns")
}

async fn measure(ns: &Netns, dir: &Path, mode: &str, n: u32) -> AgentMemory {
    let listener = tokio::net::TcpListener::bind(API).await.expect("bind");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = dir.join("state");
    let server = tokio::spawn(async move {
        podnet_apiserver::serve(listener, &state, async {
            let _ = stop_rx.await;
        })
        .await
        .expect("API server");
    });
    let client = kube::Client::try_from(kube::Config::new(
        format!("http://{API}").parse().expect("url"),
    ))
    .expect("client");
    fill(&client, n).await;

    let log = dir.join(format!("agent-{mode}.log"));
    let mut agent = start(ns, dir, mode, &log);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(900);
    let want = format!("podnet_proxy_services {n}\n");
    loop {
        let (_, metrics, _) = ns.try_exec(&[
            "curl",
            "-s",
            "--max-time",
            "5",
            "http://127.0.0.1:10256/metrics",
        ]);
        if metrics.contains(&want) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not program {n} Services:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(
            agent.try_wait().expect("agent status").is_none(),
            "the agent exited:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let programmed_after = started.elapsed();
    // What it keeps once the first sync's garbage is returned (allocators keep some).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (hwm_kib, rss_kib) = memory_kib(agent.id());
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = agent.wait();
    let _ = stop_tx.send(());
    let _ = server.await;
    AgentMemory {
        hwm_kib,
        rss_kib,
        programmed_after,
    }
}

/// The Node the agent runs as, then `n` Services with their slices, [`CREATORS`] at a time.
async fn fill(client: &kube::Client, n: u32) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "node-1"},
        "spec": {"podCIDR": "10.244.1.0/24"}}))
    .expect("a Node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let status =
        json!({"status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}});
    nodes
        .patch_status("node-1", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let bench_ns = serde_json::from_value(json!({"metadata": {"name": "bench"}})).expect("ns");
    // The server may create namespaces on demand; an existing one is fine.
    let _ = namespaces.create(&PostParams::default(), &bench_ns).await;
    let services: Api<Service> = Api::namespaced(client.clone(), "bench");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "bench");
    futures::stream::iter(0..n)
        .map(|i| {
            let (services, slices) = (services.clone(), slices.clone());
            async move {
                services.create(&PostParams::default(), &service(i)).await?;
                slices.create(&PostParams::default(), &slice(i)).await?;
                Ok::<_, kube::Error>(())
            }
        })
        .buffer_unordered(CREATORS)
        .try_collect::<Vec<()>>()
        .await
        .expect("creating Services and EndpointSlices");
}

fn start(ns: &Netns, dir: &Path, mode: &str, log: &Path) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(env!("CARGO_BIN_EXE_podnet"))
        .args(["agent", "--node", "node-1", "--kubeconfig"])
        .arg(dir.join("kubeconfig"))
        .args(["--routing", "host-gw", "--proxy-mode", mode])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).expect("agent log"))
        .spawn()
        .expect("starting podnet agent")
}

/// VmHWM and VmRSS of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}
