//! Throughput of pod→pod across nodes over podnet's vxlan, side by side with a bare VXLAN
//! path built in the same run (two namespaces on the same fabric, a VXLAN device each with
//! the same MTU, VNI and port, static FDB): what the pod path costs on top (veth + bridge +
//! routing + nftables). Ignored by default; run with:
//!
//! ```text
//! unshare --net --mount --propagation private -- bash -c 'ip link set lo up && \
//!   cargo test --release --test routing_bench -- --ignored --nocapture'
//! ```

#[path = "routing/cluster.rs"]
mod cluster;

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cluster::{CLUSTER_CIDR, Cluster};
use podnet_agent_routing::{Config, Kernel, Mode, Reconciler};
use podnet_test_util::Netns;
use serde_json::Value;

const SECONDS: &str = "5";

/// An iperf3 server for one test, inside `ns`.
fn iperf_server(ns: &Netns, bind: Ipv4Addr) -> Child {
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "iperf3", "-s", "-1", "-B"])
        .arg(bind.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// Gbit/s received, client in `from` to `to`.
fn iperf(from: &Netns, server_ns: &Netns, to: Ipv4Addr) -> f64 {
    let mut server = iperf_server(server_ns, to);
    let out = from.exec(&["iperf3", "-c", &to.to_string(), "-t", SECONDS, "-J"]);
    let _ = server.wait();
    let v: Value = serde_json::from_str(&out).unwrap();
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .unwrap()
        / 1e9
}

/// Two namespaces on the fabric with nothing but a VXLAN device between them.
fn bare_vxlan(c: &Cluster) -> (Netns, Netns) {
    let ends: Vec<Netns> = (0..2u8)
        .map(|i| {
            let ns = Netns::new(&format!("rt-bare{i}"));
            let port = format!("bare{i}");
            c.fabric.exec(&[
                "ip",
                "link",
                "add",
                &port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns.name(),
            ]);
            c.fabric
                .exec(&["ip", "link", "set", &port, "master", "br0", "up"]);
            let ip = format!("172.18.1.{}", i + 1);
            ns.exec(&["ip", "addr", "add", &format!("{ip}/16"), "dev", "eth0"]);
            ns.exec(&["ip", "link", "set", "eth0", "up"]);
            ns.exec(&[
                "ip",
                "link",
                "add",
                "vx0",
                "type",
                "vxlan",
                "id",
                "1",
                "dstport",
                "8472",
                "local",
                &ip,
                "dev",
                "eth0",
                "nolearning",
            ]);
            ns.exec(&["ip", "link", "set", "vx0", "mtu", "1450", "up"]);
            ns.exec(&[
                "ip",
                "addr",
                "add",
                &format!("192.168.77.{}/24", i + 1),
                "dev",
                "vx0",
            ]);
            ns
        })
        .collect();
    let mac = |ns: &Netns| {
        let v: Value =
            serde_json::from_str(&ns.exec(&["ip", "-j", "link", "show", "dev", "vx0"])).unwrap();
        v[0]["address"].as_str().unwrap().to_owned()
    };
    let (m0, m1) = (mac(&ends[0]), mac(&ends[1]));
    for (ns, peer_mac, peer_ip, peer_vtep) in [
        (&ends[0], &m1, "172.18.1.2", "192.168.77.2"),
        (&ends[1], &m0, "172.18.1.1", "192.168.77.1"),
    ] {
        ns.exec(&[
            "bridge", "fdb", "append", peer_mac, "dev", "vx0", "dst", peer_ip,
        ]);
        ns.exec(&[
            "ip",
            "neigh",
            "add",
            peer_vtep,
            "lladdr",
            peer_mac,
            "dev",
            "vx0",
            "nud",
            "permanent",
        ]);
    }
    let mut it = ends.into_iter();
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
#[ignore = "benchmark: run by hand with --ignored --nocapture"]
fn bench_iperf3_pod_to_pod_vxlan_vs_bare_vxlan() {
    let c = Cluster::new("rt-bench", 2, Mode::Vxlan);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in &c.nodes {
        let _enter = rt.enter();
        let cfg = Config {
            node: n.name.clone(),
            mode: Mode::Vxlan,
            cluster_cidr: CLUSTER_CIDR.parse().unwrap(),
        };
        let mut r = Reconciler::new(cfg, Kernel::open(Some(n.ns.path())).unwrap());
        rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    }
    let (a, b) = bare_vxlan(&c);
    let bare = iperf(&a, &b, Ipv4Addr::new(192, 168, 77, 2));
    let pods = iperf(&c.nodes[0].pod, &c.nodes[1].pod, c.nodes[1].pod_ip);
    let bare_again = iperf(&a, &b, Ipv4Addr::new(192, 168, 77, 2));
    let pods_again = iperf(&c.nodes[0].pod, &c.nodes[1].pod, c.nodes[1].pod_ip);
    let (bare, pods) = ((bare + bare_again) / 2.0, (pods + pods_again) / 2.0);
    println!(
        "iperf3 TCP, {SECONDS}s x2 each: bare vxlan {bare:.2} Gbit/s, pod→pod across nodes over \
         podnet vxlan {pods:.2} Gbit/s ({:.0}% of bare)",
        100.0 * pods / bare
    );
    assert!(bare > 0.0 && pods > 0.0);
}
