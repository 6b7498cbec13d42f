//! The lab's control plane under load, measured against the REAL daemon process (started with
//! `podnet lab up` in a temporary state directory, its controllers running):
//!
//! - pod creates per second, one client awaiting each create, then 8 concurrent clients;
//! - watch delivery latency with 1000 pods stored and 10 watchers: for each of 200 writes, the
//!   time from the write's acknowledgement (the HTTP response) to each watcher receiving it;
//! - the daemon's memory (VmRSS and VmHWM from /proc/PID/status) at that size.
//!
//! `cargo bench --bench apiserver` (release build). Pods carry `spec.nodeName`, so the
//! scheduler does not write to them while we measure.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const PODNET: &str = env!("CARGO_BIN_EXE_podnet");
const SEQUENTIAL: usize = 500;
const CONCURRENT_CLIENTS: usize = 8;
const PER_CLIENT: usize = 62;
const WATCHERS: usize = 10;
const WRITES: usize = 200;
const NS: &str = "bench";

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
    let addr = std::fs::read_to_string(dir.join("address")).unwrap();
    let pid: i32 = std::fs::read_to_string(dir.join("daemon.pid"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("http://{}", addr.trim()).parse().unwrap();
        let client = kube::Client::try_from(kube::Config::new(url)).unwrap();
        let node = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .find(|n| n.ends_with("-worker"))
            .expect("a worker node");
        let nss: Api<Namespace> = Api::all(client.clone());
        let ns = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
        nss.create(&PostParams::default(), &ns).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
        let rss_empty = memory(pid);

        let start = Instant::now();
        for i in 0..SEQUENTIAL {
            pods.create(&PostParams::default(), &pod(&format!("seq-{i}"), &node))
                .await
                .unwrap();
        }
        let seq_rate = SEQUENTIAL as f64 / start.elapsed().as_secs_f64();

        let start = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENT_CLIENTS)
            .map(|c| {
                // Each client its own connection, as separate processes would have.
                let url = format!("http://{}", addr.trim()).parse().unwrap();
                let client = kube::Client::try_from(kube::Config::new(url)).unwrap();
                let node = node.clone();
                tokio::spawn(async move {
                    let pods: Api<Pod> = Api::namespaced(client, NS);
                    for i in 0..PER_CLIENT {
                        pods.create(&PostParams::default(), &pod(&format!("c{c}-{i}"), &node))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        futures::future::join_all(tasks).await;
        let conc_total = CONCURRENT_CLIENTS * PER_CLIENT;
        let conc_rate = conc_total as f64 / start.elapsed().as_secs_f64();

        // Top up to exactly 1000 pods.
        let stored = SEQUENTIAL + conc_total;
        for i in stored..1000 {
            pods.create(&PostParams::default(), &pod(&format!("fill-{i}"), &node))
                .await
                .unwrap();
        }
        let list = pods.list(&Default::default()).await.unwrap();
        assert_eq!(list.items.len(), 1000);
        let from = list.metadata.resource_version.unwrap();

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String, Instant)>();
        let mut watchers = Vec::new();
        for w in 0..WATCHERS {
            let url = format!("http://{}", addr.trim()).parse().unwrap();
            let client = kube::Client::try_from(kube::Config::new(url)).unwrap();
            let api: Api<Pod> = Api::namespaced(client, NS);
            let tx = tx.clone();
            let from = from.clone();
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            watchers.push(tokio::spawn(async move {
                let stream = api
                    .watch(&WatchParams::default().timeout(290), &from)
                    .await
                    .unwrap();
                let _ = ready_tx.send(());
                futures::pin_mut!(stream);
                while let Some(ev) = stream.try_next().await.unwrap() {
                    if let WatchEvent::Modified(p) = ev {
                        let rv = p.metadata.resource_version.unwrap();
                        let _ = tx.send((w, rv, Instant::now()));
                    }
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
        let mut latencies = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while latencies.len() < WRITES * WATCHERS && Instant::now() < deadline {
            let Ok(Some((_, rv, at))) =
                tokio::time::timeout(Duration::from_secs(5), rx.recv()).await
            else {
                break;
            };
            if let Some(ack) = acked.get(&rv) {
                // A watcher can see the event before the writer has read its response.
                latencies.push(at.saturating_duration_since(*ack));
            }
        }
        let rss_full = memory(pid);
        for w in watchers {
            w.abort();
        }
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];

        println!();
        println!("podnet lab daemon (release build, real process, controllers running)");
        println!("{:<58} {:>14}", "measure", "value");
        println!("{:<58} {:>14}", "-".repeat(58), "-".repeat(14));
        println!(
            "{:<58} {:>10.0} /s",
            format!("pod creates, 1 client, sequential ({SEQUENTIAL})"),
            seq_rate
        );
        println!(
            "{:<58} {:>10.0} /s",
            format!("pod creates, {CONCURRENT_CLIENTS} concurrent clients ({conc_total})"),
            conc_rate
        );
        println!(
            "{:<58} {:>14}",
            format!("watch deliveries received ({WRITES} writes x {WATCHERS} watchers)"),
            latencies.len()
        );
        println!(
            "{:<58} {:>11.2} ms",
            "watch delivery latency p50 (1000 pods, 10 watchers)",
            ms(pct(0.50))
        );
        println!(
            "{:<58} {:>11.2} ms",
            "watch delivery latency p99",
            ms(pct(0.99))
        );
        println!(
            "{:<58} {:>11.2} ms",
            "watch delivery latency max",
            ms(*latencies.last().unwrap())
        );
        println!("{:<58} {:>11.1} MB", "daemon VmRSS, empty lab", rss_empty.0);
        println!(
            "{:<58} {:>11.1} MB",
            "daemon VmRSS, 1000 pods + 10 watchers", rss_full.0
        );
        println!("{:<58} {:>11.1} MB", "daemon VmHWM (peak RSS)", rss_full.1);
        assert_eq!(
            latencies.len(),
            WRITES * WATCHERS,
            "every watcher gets every write"
        );
    });
}

fn pod(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
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
