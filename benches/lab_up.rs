//! `podnet lab up` of a 3-node lab (kind's default shape: a control plane and two workers)
//! with a Deployment of 30 agnhost netexec replicas: the wall clock of `lab up -f` until
//! every node and pod is Ready, and each pod's create→Ready as a watch sees it.
//!
//! No upstream tool can run side by side here (kind needs Docker, which this machine does
//! not have), so two reference points are measured in the same run instead, each the layer
//! below the previous one: the lab's kubelet alone (pods created already bound to its node)
//! and the CNI runtime alone (`podnet cni add` on a fresh netns per pod). Each round runs
//! the three; the table shows the medians over rounds. Needs root; run it inside a private
//! network and mount namespace:
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench lab_up'
//!
//! PODNET_BENCH_ROUNDS=5 changes the number of rounds (default 3). Every lab and namespace
//! is removed on drop, also when a round fails.

#[path = "lab_up/cni.rs"]
mod cni;
#[allow(dead_code)]
#[path = "../tests/kubelet/harness.rs"]
mod harness;
#[path = "lab_up/kubelet.rs"]
mod kubelet;
#[path = "../tests/lab/support.rs"]
mod lab;
#[path = "support/stats.rs"]
mod stats;
#[path = "lab_up/watch.rs"]
mod watch;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use lab::Lab;
use stats::{median, percentile_ms};
use watch::{PodWatch, Timeline};

const PODS: usize = 30;

/// Exactly as Kubernetes' e2e tests write an agnhost netexec Deployment.
const DEPLOYMENT: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: netexec, labels: {app: netexec}}
spec:
  replicas: 30
  selector: {matchLabels: {app: netexec}}
  template:
    metadata: {labels: {app: netexec}}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080, --udp-port=8081]
        ports: [{containerPort: 8080, protocol: TCP}, {containerPort: 8081, protocol: UDP}]
";

/// One row's samples of one round.
struct Sample {
    /// Until everything the row makes is Ready (for the lab: the whole `lab up`).
    total: Duration,
    /// From the first pod created to the last one Ready.
    span: Duration,
    latencies: Vec<Duration>,
}

#[derive(Default)]
struct Row {
    label: &'static str,
    samples: Vec<Sample>,
}

fn main() {
    if !stats::selected("lab_up") {
        return;
    }
    podnet_test_util::sweep_leftovers();
    let rounds = stats::rounds(3);
    let tmp = tempfile::tempdir().unwrap();
    let manifest = lab::manifest(tmp.path(), "netexec.yaml", DEPLOYMENT);
    let mut rows = [
        Row {
            label: "podnet lab up -f (3 nodes, whole lab)",
            ..Row::default()
        },
        Row {
            label: "lab kubelet alone (1 node, pods bound)",
            ..Row::default()
        },
        Row {
            label: "CNI runtime alone (netns + cni add)",
            ..Row::default()
        },
    ];
    let mut failures = vec![];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let results = [
            lab_round(round, &manifest),
            kubelet::round(PODS).map(|t| sample(t.span(), &t)),
            cni::round(PODS).map(|(latencies, wall)| Sample {
                total: wall,
                span: wall,
                latencies,
            }),
        ];
        for (row, result) in rows.iter_mut().zip(results) {
            match result {
                Ok(s) => {
                    eprintln!(
                        "  {:<40} total {:>7.2} s, create→Ready p50 {:>7.1} ms",
                        row.label,
                        s.total.as_secs_f64(),
                        percentile_ms(&s.latencies, 0.5)
                    );
                    row.samples.push(s);
                }
                Err(e) => failures.push(format!("round {}: {}: {e}", round + 1, row.label)),
            }
        }
    }
    report(&rows, rounds);
    for f in &failures {
        eprintln!("FAILED {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn sample(total: Duration, t: &Timeline) -> Sample {
    Sample {
        total,
        span: t.span(),
        latencies: t.latencies(),
    }
}

/// `lab up -f` timed from the outside, with a watch that attaches as soon as the lab's API
/// answers (`lab up` applies manifests only once every node is Ready, so no pod exists yet).
fn lab_round(round: usize, manifest: &Path) -> Result<Sample, String> {
    let lab = Lab::new(&format!("up{round}"));
    let manifest = manifest.to_str().unwrap();
    std::thread::scope(|s| {
        let up = s.spawn(|| {
            let t0 = Instant::now();
            let out = lab.podnet(&["up", "-f", manifest]);
            (t0.elapsed(), out)
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let timeline = rt.block_on(async {
            let watch = loop {
                if up.is_finished() {
                    return Err("lab up ended before its API server answered".to_owned());
                }
                if lab.dir().join("address").exists() {
                    let api = kube::Api::<Pod>::all(lab.client());
                    if let Ok(w) = PodWatch::start(api).await {
                        break w;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            watch.until_ready(PODS, Duration::from_secs(300)).await
        });
        let (wall, out) = up.join().unwrap();
        check(&out)?;
        Ok(sample(wall, &timeline?))
    })
}

fn check(out: &Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("podnet lab up failed:\n{}", lab::show(out)))
    }
}

fn report(rows: &[Row], rounds: usize) {
    println!(
        "\nlab up: 3 nodes (control plane + 2 workers, vxlan), Deployment of {PODS} agnhost \
         netexec replicas; medians of {rounds} rounds"
    );
    println!(
        "No upstream tool runs side by side here (kind needs Docker): the rows below the lab \
         are the layers it is built on, measured in the same run."
    );
    println!(
        "{:<42} {:>12} {:>14} {:>16} {:>16}",
        "how", "all Ready s", "pods phase s", "create→Ready p50", "create→Ready p99"
    );
    for row in rows {
        if row.samples.is_empty() {
            println!("{:<42} (no successful round)", row.label);
            continue;
        }
        let of = |f: &dyn Fn(&Sample) -> f64| -> f64 {
            median(&row.samples.iter().map(f).collect::<Vec<_>>())
        };
        println!(
            "{:<42} {:>12.2} {:>14.2} {:>13.1} ms {:>13.1} ms",
            row.label,
            of(&|s| s.total.as_secs_f64()),
            of(&|s| s.span.as_secs_f64()),
            of(&|s| percentile_ms(&s.latencies, 0.5)),
            of(&|s| percentile_ms(&s.latencies, 0.99)),
        );
    }
    println!(
        "all Ready: the lab row is the wall clock of `podnet lab up -f` (namespaces, control \
         plane, nodes Ready, apply, pods Ready); the others from the first pod created to the \
         last one Ready. create→Ready: per pod, from the watch event that first shows it to the \
         one that shows it Ready (CNI row: netns create + ADD)."
    );
}
