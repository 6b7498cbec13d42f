//! The lab's control plane under load, measured against the REAL daemon process (started with
//! `podnet lab up` in a temporary state directory, its controllers running), once with JSON
//! and once with Kubernetes' protobuf wire format (what kubectl's typed clients speak):
//!
//! - pod creates per second, one client awaiting each create, then 8 concurrent clients;
//! - watch delivery latency with 1000 pods stored and 10 watchers: for each of 200 writes, the
//!   time from the write's acknowledgement (the HTTP response) to each watcher receiving it;
//! - the daemon's memory (VmRSS and VmHWM from /proc/PID/status) with 1000 pods and then with
//!   5000 Events beside them.
//!
//! `cargo bench --bench apiserver` (release build). Pods are bound to a node that does not
//! exist, so neither the scheduler nor a kubelet touches them while we measure.

#[path = "apiserver/protobuf.rs"]
mod protobuf;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ServiceAccount};
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const PODNET: &str = env!("CARGO_BIN_EXE_podnet");
const SEQUENTIAL: usize = 500;
const CONCURRENT_CLIENTS: usize = 8;
const PER_CLIENT: usize = 62;
const PODS: usize = 1000;
const WATCHERS: usize = 10;
const WRITES: usize = 200;
const EVENTS: usize = 5000;
/// No kubelet runs this node's pods and the scheduler leaves bound pods alone.
const NODE: &str = "bench-absent-node";

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Json,
    Protobuf,
}

struct Figures {
    sequential: f64,
    concurrent: f64,
    delivered: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let name = format!("bench-{}", std::process::id());
    let lab = |args: &[&str]| {
        Command::new(PODNET)
            .arg("lab")
            .args(args)
            .args(["--name", &name, "--state-dir"])
            .arg(root.path())
            .output()
            .unwrap()
    };
    let up = lab(&["up"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let dir = root.path().join(&name);
    let result = std::panic::catch_unwind(|| run(&dir));
    let down = lab(&["down"]);
    assert!(down.status.success());
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

fn run(dir: &Path) {
    let pid: i32 = std::fs::read_to_string(dir.join("daemon.pid"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let rss_empty = memory(pid);
        let json = measure(&kubeconfig, Encoding::Json, "bench-json").await;
        let rss_pods = memory(pid);
        events(&kubeconfig, "bench-json").await;
        let rss_events = memory(pid);
        let protobuf = measure(&kubeconfig, Encoding::Protobuf, "bench-protobuf").await;
        let rss_end = memory(pid);

        println!();
        let build = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        println!("podnet lab daemon ({build} build, real process, controllers running)");
        println!("{:<52} {:>12} {:>12}", "measure", "JSON", "protobuf");
        println!(
            "{:<52} {:>12} {:>12}",
            "-".repeat(52),
            "-".repeat(12),
            "-".repeat(12)
        );
        let rate = |what: String, f: fn(&Figures) -> f64| {
            println!("{what:<52} {:>10.0}/s {:>10.0}/s", f(&json), f(&protobuf));
        };
        rate(
            format!("pod creates, 1 client, sequential ({SEQUENTIAL})"),
            |f| f.sequential,
        );
        rate(
            format!("pod creates, {CONCURRENT_CLIENTS} concurrent clients"),
            |f| f.concurrent,
        );
        println!(
            "{:<52} {:>12} {:>12}",
            format!("watch deliveries ({WRITES} writes x {WATCHERS} watchers)"),
            json.delivered,
            protobuf.delivered
        );
        let latency = |what: &str, f: fn(&Figures) -> Duration| {
            println!(
                "{what:<52} {:>9.2} ms {:>9.2} ms",
                ms(f(&json)),
                ms(f(&protobuf))
            );
        };
        latency(
            &format!("watch delivery p50 ({PODS} pods, {WATCHERS} watchers)"),
            |f| f.p50,
        );
        latency("watch delivery p99", |f| f.p99);
        latency("watch delivery max", |f| f.max);
        println!();
        println!("{:<52} {:>9.1} MB", "daemon VmRSS, empty lab", rss_empty.0);
        println!(
            "{:<52} {:>9.1} MB",
            format!("daemon VmRSS, {PODS} pods"),
            rss_pods.0
        );
        println!(
            "{:<52} {:>9.1} MB",
            format!("daemon VmRSS, {PODS} pods + {EVENTS} Events"),
            rss_events.0
        );
        println!(
            "{:<52} {:>9.1} MB",
            format!("daemon VmRSS, + {PODS} more pods (protobuf)"),
            rss_end.0
        );
        println!("{:<52} {:>9.1} MB", "daemon VmHWM (peak RSS)", rss_end.1);
        for f in [&json, &protobuf] {
            assert_eq!(
                f.delivered,
                WRITES * WATCHERS,
                "every watcher gets every write"
            );
        }
    });
}

/// A client of its own (its own connection), as a separate process would have.
async fn client(kubeconfig: &Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn create(client: &kube::Client, enc: Encoding, ns: &str, name: &str) {
    match enc {
        Encoding::Json => {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            pods.create(&PostParams::default(), &pod(name))
                .await
                .unwrap();
        }
        Encoding::Protobuf => {
            protobuf::create(client, ns, name, NODE).await;
        }
    }
}

async fn measure(kubeconfig: &Path, enc: Encoding, ns: &str) -> Figures {
    let main = client(kubeconfig).await;
    let nss: Api<Namespace> = Api::all(main.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
    nss.create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    // Pods are refused until the namespace's `default` ServiceAccount exists (the
    // ServiceAccount admission), as on kube-apiserver; the lab's controller makes it.
    let accounts: Api<ServiceAccount> = Api::namespaced(main.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    while accounts.get_opt("default").await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "no default ServiceAccount in {ns}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        create(&main, enc, ns, &format!("seq-{i}")).await;
    }
    let sequential = SEQUENTIAL as f64 / start.elapsed().as_secs_f64();

    let mut clients = Vec::new();
    for _ in 0..CONCURRENT_CLIENTS {
        clients.push(client(kubeconfig).await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(c, client)| {
            let ns = ns.to_string();
            tokio::spawn(async move {
                for i in 0..PER_CLIENT {
                    create(&client, enc, &ns, &format!("c{c}-{i}")).await;
                }
            })
        })
        .collect();
    futures::future::join_all(tasks).await;
    let concurrent = (CONCURRENT_CLIENTS * PER_CLIENT) as f64 / start.elapsed().as_secs_f64();

    let pods: Api<Pod> = Api::namespaced(main.clone(), ns);
    for i in SEQUENTIAL + CONCURRENT_CLIENTS * PER_CLIENT..PODS {
        create(&main, enc, ns, &format!("fill-{i}")).await;
    }
    let list = pods.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), PODS);
    let from = list.metadata.resource_version.unwrap();

    let received: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let client = client(kubeconfig).await;
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let received = received.clone();
        let (ns, from) = (ns.to_string(), from.clone());
        watchers.push(tokio::spawn(async move {
            let seen = move |rv: String| received.lock().unwrap().push((rv, Instant::now()));
            match enc {
                Encoding::Json => watch_json(client, &ns, &from, ready_tx, seen).await,
                Encoding::Protobuf => protobuf::watch(client, &ns, &from, ready_tx, seen).await,
            }
        }));
        ready_rx.await.unwrap();
    }
    // Give every watch request time to reach the server before the first write.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut acked: HashMap<String, Instant> = HashMap::new();
    for i in 0..WRITES {
        let patch = json!({"metadata": {"labels": {"bench": i.to_string()}}});
        let p = pods
            .patch(
                &format!("seq-{i}"),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
        acked.insert(p.metadata.resource_version.unwrap(), Instant::now());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while received.lock().unwrap().len() < WRITES * WATCHERS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in watchers {
        w.abort();
    }
    let mut latencies: Vec<Duration> = received
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(rv, at)| {
            // A watcher can see the event before the writer has read its response.
            acked.get(rv).map(|ack| at.saturating_duration_since(*ack))
        })
        .collect();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    Figures {
        sequential,
        concurrent,
        delivered: latencies.len(),
        p50: pct(0.50),
        p99: pct(0.99),
        max: *latencies.last().unwrap(),
    }
}

async fn watch_json(
    client: kube::Client,
    ns: &str,
    from: &str,
    ready: tokio::sync::oneshot::Sender<()>,
    mut seen: impl FnMut(String),
) {
    let api: Api<Pod> = Api::namespaced(client, ns);
    let stream = api
        .watch(&WatchParams::default().timeout(290), from)
        .await
        .unwrap();
    let _ = ready.send(());
    futures::pin_mut!(stream);
    while let Some(ev) = stream.try_next().await.unwrap() {
        if let WatchEvent::Modified(p) = ev {
            seen(p.metadata.resource_version.unwrap());
        }
    }
}

/// Events about the namespace's pods, as controllers and kubelets write them.
async fn events(kubeconfig: &Path, ns: &str) {
    let api: Api<Event> = Api::namespaced(client(kubeconfig).await, ns);
    let now = "2026-01-01T00:00:00Z";
    for i in 0..EVENTS {
        let pod = format!("seq-{}", i % SEQUENTIAL);
        let event = serde_json::from_value(json!({
            "metadata": {"name": format!("{pod}.{i:x}")},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1",
                "fieldPath": "spec.containers{c}"},
            "reason": "Started", "message": "Started container c", "type": "Normal",
            "source": {"component": "kubelet", "host": NODE},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": "kubelet", "reportingInstance": NODE,
        }))
        .unwrap();
        api.create(&PostParams::default(), &event).await.unwrap();
    }
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    }))
    .unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (VmRSS, VmHWM) in MB.
fn memory(pid: i32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}
