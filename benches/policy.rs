//! Policy in a vxlan lab (kind's default shape, nftables proxy): the time from a policy's
//! creation in the API (`kubectl apply` returning) until a pod's new connections to another
//! pod on another node are refused, and from its deletion until they pass again (p50/p99 over
//! many iterations), for a ClusterNetworkPolicy Admin Deny; and the data-path cost as pod→pod
//! iperf3 throughput. Both with no other policy and with 100 NetworkPolicies isolating the
//! server pod (each a chain its new connections walk, and one allowing everything); the
//! throughput runs of the two alternate, each state waited for in the server node's table.
//!
//! A loop inside the client pod connects with `podnet workload connect --timeout=100ms` until
//! the verdict flips, so a sample includes up to 100 ms of that timeout. Needs root and
//! iperf3; run it inside a private network and mount namespace:
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench policy'
//!
//! PODNET_BENCH_ROUNDS (iterations per figure, default 20), PODNET_BENCH_POLICIES (default
//! 100), PODNET_BENCH_SECONDS (per iperf3 run, default 5). The lab is removed on drop.

#[path = "../tests/lab/support.rs"]
mod lab;
#[path = "support/stats.rs"]
mod stats;

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lab::{Lab, PODNET};
use serde_json::Value;
use stats::{median, percentile_ms};

/// Two iperf3 servers (one per worker: the control plane is tainted); one is the client.
const PODS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: iperf}
spec:
  replicas: 2
  selector: {matchLabels: {app: iperf}}
  template:
    metadata: {labels: {app: iperf}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: iperf}}}
      containers:
      - name: iperf3
        image: debian
        command: [iperf3, -s]
        ports: [{containerPort: 5201}]
";

const DENY: &str = "
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: bench-deny}
spec:
  tier: Admin
  priority: 1
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: iperf}}}}
  ingress:
  - {action: Deny, from: [{namespaces: {}}]}
";

struct Pair<'a> {
    lab: &'a Lab,
    client: String,
    server_ip: String,
    server_node: String,
}

fn main() {
    if !stats::selected("policy") {
        return;
    }
    podnet_test_util::sweep_leftovers();
    let rounds = stats::rounds(20);
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let policies = env("PODNET_BENCH_POLICIES", 100);
    let seconds = env("PODNET_BENCH_SECONDS", 5);
    let tmp = tempfile::tempdir().unwrap();
    let pods = lab::manifest(tmp.path(), "iperf.yaml", PODS);
    eprintln!("lab up…");
    let lab = Lab::up("pol-bench", &["-f", pods.to_str().unwrap()]);
    let pair = Pair::new(&lab);
    let deny = lab::manifest(tmp.path(), "deny.yaml", DENY);
    let background = lab::manifest(tmp.path(), "np.yaml", &network_policies(policies));

    // Throughput with and without the NetworkPolicies, interleaved so that load from
    // elsewhere on the machine hits both alike; each state waited for in the server's table.
    let (mut bare, mut walked) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        bare.push(pair.iperf(seconds));
        lab.kubectl_ok(&["apply", "-f", background.to_str().unwrap()]);
        pair.wait_for_chains(policies + 1);
        walked.push(pair.iperf(seconds));
        lab.kubectl_ok(&["delete", "-f", background.to_str().unwrap()]);
        pair.wait_for_chains(0);
    }
    let mut report = String::new();
    for (label, present, gbits) in [
        ("no other policy", 0, &bare),
        ("with NetworkPolicies", policies, &walked),
    ] {
        if present > 0 {
            lab.kubectl_ok(&["apply", "-f", background.to_str().unwrap()]);
            pair.wait_for_chains(policies + 1);
        }
        let (mut enforced, mut lifted) = (Vec::new(), Vec::new());
        for i in 0..rounds {
            eprintln!("{label}: iteration {}/{rounds}", i + 1);
            enforced.push(pair.time_until(false, || {
                lab.kubectl_ok(&["apply", "-f", deny.to_str().unwrap()]);
            }));
            lifted.push(pair.time_until(true, || {
                lab.kubectl_ok(&["delete", "-f", deny.to_str().unwrap()]);
            }));
        }
        let _ = writeln!(
            report,
            "{:<28} {:>5} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>10.2}",
            label,
            present,
            percentile_ms(&enforced, 0.5),
            percentile_ms(&enforced, 0.99),
            percentile_ms(&lifted, 0.5),
            percentile_ms(&lifted, 0.99),
            median(gbits),
        );
    }
    println!(
        "\nClusterNetworkPolicy Admin Deny, apply→enforced and delete→lifted, {rounds} iterations \
         (ms; a sample includes up to 100 ms of probe timeout); pod→pod across nodes iperf3 \
         -t {seconds}, median of 3 (Gbit/s)"
    );
    println!(
        "{:<28} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10}",
        "", "NPs", "deny p50", "deny p99", "lift p50", "lift p99", "Gbit/s"
    );
    print!("{report}");
}

/// `n` NetworkPolicies isolating the iperf pods, each allowing a label nobody has on its own
/// port, and one allowing everything (so that traffic still passes, after walking them all).
fn network_policies(n: usize) -> String {
    let mut out = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all}\n\
         spec: {podSelector: {matchLabels: {app: iperf}}, ingress: [{}]}\n",
    );
    for i in 0..n {
        let _ = write!(
            out,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np-{i}}}\n\
             spec: {{podSelector: {{matchLabels: {{app: iperf}}}}, ingress: [{{from: [{{podSelector: \
             {{matchLabels: {{peer: p{i}}}}}}}], ports: [{{port: {}}}]}}]}}\n",
            1000 + i
        );
    }
    out
}

// === impl Pair ===

impl<'a> Pair<'a> {
    fn new(lab: &'a Lab) -> Self {
        let pods: Value = lab.json(&["get", "pods", "-l", "app=iperf"]);
        let items = pods["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{pods}");
        Pair {
            lab,
            client: items[0]["metadata"]["name"].as_str().unwrap().to_owned(),
            server_ip: items[1]["status"]["podIP"].as_str().unwrap().to_owned(),
            server_node: items[1]["spec"]["nodeName"].as_str().unwrap().to_owned(),
        }
    }

    /// Waits until the server's node holds `n` NetworkPolicy chains (`np/…`) in its table.
    fn wait_for_chains(&self, n: usize) {
        lab::eventually(120, "the NetworkPolicy chains on the server's node", || {
            let out = self.lab.podnet(&[
                "node-exec",
                &self.server_node,
                "--",
                "nft",
                "list",
                "table",
                "inet",
                "podnet-policy",
            ]);
            let chains = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.trim_start().starts_with("chain np/"))
                .count();
            (chains == n).then_some(())
        });
    }

    /// A loop in the client pod that connects until the verdict is `want`, started (and
    /// seen running) before `act`; the time from `act` returning until the loop ends.
    fn time_until(&self, want: bool, act: impl FnOnce()) -> Duration {
        let mut child = self.probe_loop(want);
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the verdict was already {want}"
        );
        act();
        let started = Instant::now();
        let status = child.wait().unwrap();
        assert!(status.success(), "probe loop: {status}");
        started.elapsed()
    }

    fn probe_loop(&self, want: bool) -> Child {
        let connect = format!(
            "{PODNET} workload connect {}:5201 --timeout=100ms >/dev/null 2>&1",
            self.server_ip
        );
        let script = if want {
            format!("until {connect}; do :; done")
        } else {
            format!("while {connect}; do :; done")
        };
        Command::new(PODNET)
            .args(["lab", "--name", &self.lab.name, "--state-dir"])
            .arg(self.lab.root.path())
            .args([
                "exec",
                &self.client,
                "--",
                "timeout",
                "120",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// One iperf3 run; Gbit/s received.
    fn iperf(&self, seconds: usize) -> f64 {
        let t = seconds.to_string();
        let out = self.lab.ok(&[
            "exec",
            &self.client,
            "--",
            "iperf3",
            "-c",
            &self.server_ip,
            "-t",
            &t,
            "-O",
            "1",
            "-J",
        ]);
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("iperf3 -J output ({e}): {out}"));
        v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or_else(|| panic!("iperf3 without a result: {out}"))
            / 1e9
    }
}
