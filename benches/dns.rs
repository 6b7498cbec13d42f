//! Cluster DNS throughput and latency: `podnet dns` against Knot DNS (Debian's knotd), side
//! by side in one run, each pinned to one core (taskset) on loopback, dnsperf on another.
//!
//! - **cluster names**: the same fixture (1000 Services in 10 namespaces, each with a
//!   ClusterIP, a named port and a PTR) served by podnet from its objects and by Knot from a
//!   zone file generated from them; the query mix is A and SRV for services plus the
//!   search-list misses (`<name>.<ns>.svc.cluster.local`, NXDOMAIN) a pod with ndots:5 sends.
//! - **cached upstream names**: names under `example.test`, which only Knot holds: podnet
//!   forwards to it and answers from its cache (warmed first); Knot answers them itself.
//!
//! Queries per second from dnsperf at saturation (`-l`), p50/p99 latency from a second,
//! rate-limited run (`-Q`) with per-query latencies (`-v`). Run: `cargo bench --bench dns`
//! (needs dnsperf, knot and taskset; skips with a message when one is missing).

use std::fmt::Write as _;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SERVICES: usize = 1000;
const NAMESPACES: usize = 10;
const UPSTREAM_NAMES: usize = 1000;
const SECONDS: &str = "10";
/// The rate of the latency runs: well under either server's capacity.
const LATENCY_QPS: &str = "20000";

fn main() {
    for tool in ["dnsperf", "knotd", "taskset"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            eprintln!(
                "dns bench: {tool} not installed (apt-get install dnsperf knot util-linux); skipped"
            );
            return;
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (server_core, client_core) = if cores > 1 { ("1", "0") } else { ("0", "0") };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_fixture(d);

    let knot_port = free_port();
    let podnet_port = free_port();
    std::fs::write(d.join("knot.conf"), knot_conf(d, knot_port)).unwrap();
    std::fs::write(
        d.join("Corefile"),
        format!(
            ".:{podnet_port} {{
    bind 127.0.0.1
    kubernetes cluster.local in-addr.arpa {{
        pods insecure
        ttl 30
    }}
    forward . 127.0.0.1:{knot_port}
    cache 30 {{
        prefetch 10 1m 10%
    }}
}}
"
        ),
    )
    .unwrap();

    let knot = Server::start(
        "knot",
        Command::new("taskset")
            .args(["-c", server_core, "knotd", "-c"])
            .arg(d.join("knot.conf")),
        knot_port,
    );
    let podnet = Server::start(
        "podnet",
        Command::new("taskset")
            .args([
                "-c",
                server_core,
                env!("CARGO_BIN_EXE_podnet"),
                "dns",
                "--udp-workers",
                "1",
                "--corefile",
            ])
            .arg(d.join("Corefile"))
            .arg("--objects")
            .arg(d.join("objects.yaml"))
            .env("RUST_LOG", "warn"),
        podnet_port,
    );

    // Warm podnet's cache with every upstream name once.
    dnsperf(
        client_core,
        podnet_port,
        &d.join("upstream.txt"),
        &["-n", "1"],
    );

    let mut table = String::new();
    writeln!(
        table,
        "{:<22} {:<8} {:>10} {:>10} {:>10} {:>8}",
        "workload", "server", "qps", "p50 ms", "p99 ms", "lost"
    )
    .unwrap();
    for (workload, file) in [
        ("cluster names", "cluster.txt"),
        ("cached upstream names", "upstream.txt"),
    ] {
        for s in [&knot, &podnet] {
            let run = dnsperf(
                client_core,
                s.port,
                &d.join(file),
                &["-l", SECONDS, "-c", "8", "-q", "500"],
            );
            let lat = dnsperf(
                client_core,
                s.port,
                &d.join(file),
                &["-l", "5", "-Q", LATENCY_QPS, "-v"],
            );
            let (p50, p99) = percentiles(&lat);
            writeln!(
                table,
                "{:<22} {:<8} {:>10.0} {:>10.3} {:>10.3} {:>8}",
                workload,
                s.name,
                field(&run, "Queries per second:"),
                p50 * 1e3,
                p99 * 1e3,
                field(&run, "Queries lost:") as u64
            )
            .unwrap();
        }
    }
    println!(
        "\nDNS: podnet dns vs Knot DNS {} (one core each, loopback, dnsperf -c 8 -q 500, {SECONDS} s; latency at {LATENCY_QPS} qps)\n",
        knot_version()
    );
    println!("{table}");
    drop(podnet);
    drop(knot);
}

struct Server {
    name: &'static str,
    port: u16,
    child: Child,
}

impl Server {
    fn start(name: &'static str, cmd: &mut Command, port: u16) -> Server {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = Server { name, port, child };
        // Up when it answers the zone apex.
        for _ in 0..100 {
            if answers(port) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{name} did not start on port {port}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM, then wait: both shut down cleanly on it.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn answers(port: u16) -> bool {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let q = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'c', b'l', b'u', b's', b't', b'e', b'r', 5,
        b'l', b'o', b'c', b'a', b'l', 0, 0, 6, 0, 1,
    ];
    let _ = s.send_to(&q, ("127.0.0.1", port));
    let mut buf = [0u8; 512];
    s.recv(&mut buf).is_ok()
}

fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    drop(s);
    std::net::TcpListener::bind(("127.0.0.1", port))
        .map(|_| port)
        .unwrap_or_else(|_| free_port())
}

fn dnsperf(core: &str, port: u16, file: &Path, extra: &[&str]) -> String {
    let out = Command::new("taskset")
        .args([
            "-c",
            core,
            "dnsperf",
            "-s",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-d",
        ])
        .arg(file)
        .args(extra)
        .output()
        .expect("dnsperf runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(out: &str, label: &str) -> f64 {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// p50 and p99 of the per-query latencies dnsperf -v prints (`> NOERROR name A 0.000123`).
fn percentiles(out: &str) -> (f64, f64) {
    let mut lat: Vec<f64> = out
        .lines()
        .filter(|l| l.starts_with("> "))
        .filter_map(|l| l.split_whitespace().last()?.parse().ok())
        .collect();
    if lat.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (at(0.50), at(0.99))
}

fn knot_version() -> String {
    Command::new("knotd")
        .arg("-V")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .replace("knotd (Knot DNS), version ", "")
        })
        .unwrap_or_default()
}

fn knot_conf(d: &Path, port: u16) -> String {
    format!(
        "server:
    rundir: \"{d}\"
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: \"{d}\"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: \"{d}\"
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
  - domain: cluster.local
    file: cluster.local.zone
  - domain: in-addr.arpa
    file: in-addr.arpa.zone
  - domain: example.test
    file: example.test.zone
",
        d = d.display()
    )
}

/// The objects for podnet, the same records as zone files for Knot, and the query files.
fn write_fixture(d: &Path) {
    let mut objects = String::new();
    let mut zone = String::from(
        "$TTL 30\n@ SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\n@ NS ns.dns.cluster.local.\n\
         dns-version TXT \"1.1.0\"\n",
    );
    let mut rev = String::from(
        "$TTL 30\n@ SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 30\n@ NS ns.dns.cluster.local.\n",
    );
    let mut queries = String::new();
    for n in 0..NAMESPACES {
        writeln!(
            objects,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{n}\n---"
        )
        .unwrap();
    }
    for i in 0..SERVICES {
        let ns = format!("ns{}", i % NAMESPACES);
        let name = format!("svc{i}");
        let ip = format!("10.96.{}.{}", 1 + i / 250, i % 250 + 1);
        writeln!(
            objects,
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  clusterIP: {ip}\n  ports:\n  - name: http\n    port: 80\n---"
        )
        .unwrap();
        let fqdn = format!("{name}.{ns}.svc.cluster.local.");
        writeln!(
            zone,
            "{fqdn} A {ip}\n_http._tcp.{fqdn} SRV 0 100 80 {fqdn}\n_http._tcp.{fqdn} A {ip}"
        )
        .unwrap();
        let o: Vec<&str> = ip.split('.').collect();
        writeln!(
            rev,
            "{}.{}.{}.{}.in-addr.arpa. PTR {fqdn}",
            o[3], o[2], o[1], o[0]
        )
        .unwrap();
        // The mix: service A (as most lookups), SRV, and the search-list misses.
        writeln!(
            queries,
            "{fqdn} A\n_http._tcp.{fqdn} SRV\napi.example.com.{ns}.svc.cluster.local. A\n{fqdn} A"
        )
        .unwrap();
    }
    let mut upstream = String::from(
        "$TTL 3600\n@ SOA ns.example.test. hostmaster.example.test. 1 7200 1800 86400 300\n@ NS ns.example.test.\nns A 192.0.2.53\n",
    );
    let mut upstream_q = String::new();
    for i in 0..UPSTREAM_NAMES {
        writeln!(upstream, "host{i} A 192.0.2.{}", i % 250 + 1).unwrap();
        writeln!(upstream_q, "host{i}.example.test. A").unwrap();
    }
    std::fs::write(d.join("objects.yaml"), objects).unwrap();
    std::fs::write(d.join("cluster.local.zone"), zone).unwrap();
    std::fs::write(d.join("in-addr.arpa.zone"), rev).unwrap();
    std::fs::write(d.join("example.test.zone"), upstream).unwrap();
    std::fs::write(d.join("cluster.txt"), queries).unwrap();
    std::fs::write(d.join("upstream.txt"), upstream_q).unwrap();
}
