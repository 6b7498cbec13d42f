//! Pod→pod TCP throughput (iperf3), on the same node and across nodes, in a vxlan lab and a
//! host-gw lab, against the bare paths built in the same run: one veth pair between two
//! namespaces, and two namespaces over a bridge with a plain VXLAN device (MTU 1450) between
//! them. The pods' path adds podnet's veth + bridge + routing (+ the overlay) + nftables to
//! the bare one; the aim is ≥ 90% of it. Same node and host-gw across nodes are measured
//! against the bare veth, vxlan across nodes against the bare vxlan.
//!
//! Rounds interleave every path (the order rotates each round), so that load from elsewhere
//! on the machine hits them alike; the table shows the medians. Needs root and iperf3; run it
//! inside a private network and mount namespace:
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench pod_throughput'
//!
//! PODNET_BENCH_ROUNDS (default 3) and PODNET_BENCH_SECONDS (per iperf3 run, default 5).
//! Labs, namespaces and iperf3 servers are removed on drop, also when a run fails.

#[path = "pod_throughput/bare.rs"]
mod bare;
#[path = "../tests/lab/support.rs"]
mod lab;
#[path = "support/stats.rs"]
mod stats;

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use bare::Pair;
use lab::Lab;
use serde_json::Value;
use stats::median;

/// iperf3 servers as plain commands from the host, spread over the two workers (the control
/// plane is tainted, as in kind). No readiness probe: iperf3 would take a probe's connection
/// arriving in the middle of a test for one of the test's streams.
const SERVERS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: iperf}
spec:
  replicas: 4
  selector: {matchLabels: {app: iperf}}
  template:
    metadata: {labels: {app: iperf}}
    spec:
      containers:
      - name: iperf3
        image: debian
        command: [iperf3, -s]
        ports: [{containerPort: 5201}]
";

/// A path to measure: how to run the iperf3 client against which server.
enum Path<'a> {
    Bare(&'a Pair),
    Pod {
        lab: &'a Lab,
        client: String,
        server_ip: String,
    },
}

struct Row<'a> {
    label: &'static str,
    /// Index of the bare row it is compared with (None for the bare rows).
    against: Option<usize>,
    path: Path<'a>,
    gbits: Vec<f64>,
}

/// An iperf3 server in a bare namespace, killed on drop.
struct Server(Child);

fn main() {
    if !stats::selected("pod_throughput") {
        return;
    }
    podnet_test_util::sweep_leftovers();
    let rounds = stats::rounds(3);
    let seconds: u32 = std::env::var("PODNET_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    eprintln!("building the bare paths and two labs (vxlan, host-gw)…");
    let veth = bare::veth();
    let vxlan = bare::vxlan();
    let _servers = [Server::start(&veth), Server::start(&vxlan)];
    let vx_lab = lab_up("tp-vx", "vxlan", tmp.path());
    let gw_lab = lab_up("tp-gw", "host-gw", tmp.path());
    let (vx_same, vx_cross) = pod_paths(&vx_lab);
    let (gw_same, gw_cross) = pod_paths(&gw_lab);
    let mut rows = vec![
        Row::new("bare veth pair", None, Path::Bare(&veth)),
        Row::new("bare vxlan (MTU 1450)", None, Path::Bare(&vxlan)),
        Row::new("vxlan lab: pod→pod same node", Some(0), vx_same),
        Row::new("vxlan lab: pod→pod across nodes", Some(1), vx_cross),
        Row::new("host-gw lab: pod→pod same node", Some(0), gw_same),
        Row::new("host-gw lab: pod→pod across nodes", Some(0), gw_cross),
    ];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let n = rows.len();
        for k in 0..n {
            let row = &mut rows[(k + round) % n];
            let g = row.path.iperf(seconds);
            eprintln!("  {:<36} {g:>6.2} Gbit/s", row.label);
            row.gbits.push(g);
        }
    }
    report(&rows, rounds, seconds);
}

// === impl Row ===

impl<'a> Row<'a> {
    fn new(label: &'static str, against: Option<usize>, path: Path<'a>) -> Self {
        Row {
            label,
            against,
            path,
            gbits: vec![],
        }
    }
}

fn report(rows: &[Row], rounds: usize, seconds: u32) {
    println!(
        "\npod→pod TCP throughput, iperf3 -t {seconds} (first second omitted), one stream; \
         medians of {rounds} rounds"
    );
    println!(
        "{:<36} {:>10} {:>10} {:>9}",
        "path", "Gbit/s", "vs bare", "of"
    );
    let medians: Vec<f64> = rows.iter().map(|r| median(&r.gbits)).collect();
    for (row, m) in rows.iter().zip(&medians) {
        match row.against {
            None => println!("{:<36} {m:>10.2}", row.label),
            Some(b) => println!(
                "{:<36} {m:>10.2} {:>9.0}% {:>9}",
                row.label,
                100.0 * m / medians[b],
                if b == 0 { "veth" } else { "vxlan" }
            ),
        }
    }
}

// === impl Path ===

impl Path<'_> {
    /// One iperf3 run; Gbit/s received.
    fn iperf(&self, seconds: u32) -> f64 {
        let t = seconds.to_string();
        let out = match self {
            Path::Bare(pair) => {
                let ip = pair.server_ip.to_string();
                pair.client
                    .exec(&["iperf3", "-c", &ip, "-t", &t, "-O", "1", "-J"])
            }
            Path::Pod {
                lab,
                client,
                server_ip,
            } => lab.ok(&[
                "exec", client, "--", "iperf3", "-c", server_ip, "-t", &t, "-O", "1", "-J",
            ]),
        };
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("iperf3 -J output ({e}): {out}"));
        v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or_else(|| panic!("iperf3 without a result: {out}"))
            / 1e9
    }
}

// === impl Server ===

impl Server {
    fn start(pair: &Pair) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", pair.server.name(), "iperf3", "-s", "-B"])
            .arg(pair.server_ip.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting iperf3 -s (is iperf3 installed?)");
        let server = Server(child);
        let ip = pair.server_ip;
        lab::eventually(5, "iperf3 -s listening", || {
            listening(pair, ip).then_some(())
        });
        server
    }
}

fn listening(pair: &Pair, ip: Ipv4Addr) -> bool {
    let (_, out, _) = pair
        .server
        .try_exec(&["ss", "-Hltn", "src", &ip.to_string()]);
    out.contains(":5201")
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// === the labs ===

fn lab_up(tag: &str, mode: &str, dir: &std::path::Path) -> Lab {
    let config = lab::manifest(
        dir,
        &format!("{tag}.yaml"),
        &format!(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
             - role: worker\n- role: worker\nnetworking:\n  routingMode: {mode}\n"
        ),
    );
    let servers = lab::manifest(dir, "iperf.yaml", SERVERS);
    Lab::up(
        tag,
        &[
            "--config",
            config.to_str().unwrap(),
            "-f",
            servers.to_str().unwrap(),
        ],
    )
}

struct Pod {
    name: String,
    ip: String,
    node: String,
}

/// A client pod with a server on its node and one on another node.
fn pod_paths(lab: &Lab) -> (Path<'_>, Path<'_>) {
    let out = lab.ok(&["get", "pods", "-l", "app=iperf", "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    let pods: Vec<Pod> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| Pod {
            name: p["metadata"]["name"].as_str().unwrap().to_owned(),
            ip: p["status"]["podIP"].as_str().unwrap_or_default().to_owned(),
            node: p["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    let (client, same) = pods
        .iter()
        .find_map(|c| {
            let same = pods.iter().find(|p| p.node == c.node && p.name != c.name)?;
            Some((c, same))
        })
        .unwrap_or_else(|| panic!("no two iperf pods share a node in lab {}", lab.name));
    let cross = pods
        .iter()
        .find(|p| p.node != client.node)
        .unwrap_or_else(|| panic!("all iperf pods on one node in lab {}", lab.name));
    let path = |server: &Pod| Path::Pod {
        lab,
        client: client.name.clone(),
        server_ip: server.ip.clone(),
    };
    (path(same), path(cross))
}
