//! The iptables mode at scale, each size in a namespace of its own: full sync and
//! one-endpoint sync of N Services × 3 endpoints, the cost of any restore at that size, and
//! the latency of a new connection to the last Service in KUBE-SERVICES.
//!
//! `cargo run --release -p podnet-agent-proxy-iptables --example iptables_scale -- 10 1000 10000`
//! (as root, inside `unshare --net --mount`, like the tests).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use podnet_agent_proxy::fixture::{self, endpoint, service, slice};
use podnet_agent_proxy::{Backend, Plan, ServiceState, SyncKind};
use podnet_test_util::Netns;

/// The probe Service's only endpoint: a listener in a pod namespace.
const PROBE_ENDPOINT: &str = "10.200.0.1";
const PROBE_CLUSTER_IP: &str = "10.97.255.254";

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number of Services"))
        .collect();
    for n in sizes {
        run(n);
    }
}

fn run(n: usize) {
    let ns = Netns::new("ipt-scale");
    let node = fixture::node();
    let mut backend = podnet_agent_proxy_iptables::new_iptables(
        Some(ns.path()),
        podnet_agent_proxy::NodePortAddressConfig::All,
        &node,
    )
    .expect("iptables mode");
    let mut state = ServiceState::default();
    for i in 0..n {
        let name = format!("svc{i}");
        state.upsert_service(service("ns1", &name, &ip(96, i, 0), |_| {}));
        state.upsert_slice(slice("ns1", &name, 1, endpoints(i, &[0, 1, 2]), |_| {}));
    }
    // Sorted last ("zz…"): the first packet of a connection walks every other Service's rule.
    state.upsert_service(service("zz", "probe", PROBE_CLUSTER_IP, |_| {}));
    state.upsert_slice(slice(
        "zz",
        "probe",
        1,
        vec![endpoint(PROBE_ENDPOINT, fixture::NODE)],
        |_| {},
    ));

    let mut plan = Plan::default();
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node, &dirty);
    let t = Instant::now();
    let full = backend
        .sync(&plan, &changes, SyncKind::Full)
        .expect("full sync");
    let full_time = t.elapsed();

    // One endpoint of one Service replaced.
    let i = n / 2;
    state.upsert_slice(slice(
        "ns1",
        &format!("svc{i}"),
        1,
        endpoints(i, &[0, 1, 10]),
        |_| {},
    ));
    let t = Instant::now();
    let dirty = state.take_dirty();
    let changes = plan.update(&state, &node, &dirty);
    let partial = backend
        .sync(&plan, &changes, SyncKind::Partial)
        .expect("partial sync");
    let partial_time = t.elapsed();

    // What one iptables-restore costs by itself at this size: a chain nothing jumps to.
    let ipt = podnet_iptables::Iptables::new(
        Some(ns.path()),
        podnet_iptables::Family::V4,
        podnet_iptables::Variant::Nft,
    );
    let t = Instant::now();
    ipt.restore("*nat\n:KUBE-SEP-PROBE - [0:0]\n-A KUBE-SEP-PROBE -j RETURN\nCOMMIT\n")
        .expect("probe restore");
    let probe = t.elapsed();

    let (p50, p90) = connect_latency(&ns);
    println!(
        "{n:>6} Services: full sync {:>9.1} ms ({} rules, {} lines) | one endpoint {:>7.1} ms \
         ({} lines; a 4-line restore alone {:.1} ms) | first connection p50 {:.0} µs p90 {:.0} µs",
        ms(full_time),
        full.rules,
        full.transaction_lines,
        ms(partial_time),
        partial.transaction_lines,
        ms(probe),
        p50.as_secs_f64() * 1e6,
        p90.as_secs_f64() * 1e6,
    );
}

/// New TCP connections from a client outside the node to the probe Service, whose endpoint
/// is a listener in a pod namespace (each connection a new conntrack entry, so its first
/// packet walks the nat rules in PREROUTING): median and 90th percentile of connect().
///
/// ```text
/// client 172.18.0.10 ── 172.18.0.2 node (the rules) 10.200.0.254 ── 10.200.0.1 pod
/// ```
fn connect_latency(node: &Netns) -> (Duration, Duration) {
    let client = Netns::new("ipt-scale-c");
    let pod = Netns::new("ipt-scale-p");
    let link = |peer: &Netns, here: &str, there: &str, there_ip: &str| {
        node.veth(here, peer, "eth0");
        node.exec(&["ip", "addr", "add", there, "dev", here]);
        peer.exec(&["ip", "addr", "add", there_ip, "dev", "eth0"]);
    };
    link(&client, "to-client", "172.18.0.2/24", "172.18.0.10/24");
    link(
        &pod,
        "to-pod",
        "10.200.0.254/24",
        &format!("{PROBE_ENDPOINT}/24"),
    );
    node.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    client.exec(&["ip", "route", "add", "10.96.0.0/12", "via", "172.18.0.2"]);
    pod.exec(&["ip", "route", "add", "default", "via", "10.200.0.254"]);

    let listener = podnet_netns::run_in(pod.path(), || TcpListener::bind((PROBE_ENDPOINT, 8080)))
        .expect("inside the pod")
        .expect("listen");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    let target: SocketAddr = format!("{PROBE_CLUSTER_IP}:80").parse().expect("address");
    podnet_netns::run_in(client.path(), || {
        let mut samples: Vec<Duration> = (0..300)
            .map(|_| {
                let t = Instant::now();
                let conn = TcpStream::connect_timeout(&target, Duration::from_secs(2))
                    .expect("connect to the probe Service");
                let took = t.elapsed();
                drop(conn);
                took
            })
            .collect();
        samples.sort();
        (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
    })
    .expect("inside the client")
}

/// `10.<a>.<i / 250>.<i % 250 + 1>`, shifted by `k` in the second octet.
fn ip(a: usize, i: usize, k: usize) -> String {
    format!("10.{}.{}.{}", a + k, i / 250, i % 250 + 1)
}

fn endpoints(i: usize, ks: &[usize]) -> Vec<podnet_k8s_model::SliceEndpoint> {
    ks.iter()
        .map(|k| endpoint(&ip(100, i, *k), fixture::NODE))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
