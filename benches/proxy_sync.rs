//! The service proxy at scale, every mode side by side in one run (a mode is a [`Column`]):
//!
//! - full sync (first program) and a periodic full resync in which nothing changed, at
//!   1k / 10k / 30k Services × 3 endpoints;
//! - a one-endpoint change (partial sync) and a Service added and removed, p50 of 5 rounds
//!   at each size — the aims are ≤ 10 ms and ≤ 20 ms at 30k;
//! - first-connection latency (TCP connect through a ClusterIP) at 10 / 1k / 10k / 30k
//!   Services, probed at the Service that comes LAST in the rule order (iptables walks
//!   KUBE-SERVICES in order: the last Service pays for every rule before it);
//! - where the time of each operation went at the largest size (watch events into the
//!   state, plan, read-back, render, diff, encode, kernel, conntrack);
//! - the agent's memory: a real `podnet agent` process (VmHWM and VmRSS from /proc) that
//!   programmed 30k Services from an API server holding them (`support/proxy_agent.rs`).
//!
//! Everything runs inside network namespaces the bench creates (through the same `Engine`
//! the agent runs); the machine's own network is not touched. Needs root.
//!
//!     cargo bench --bench proxy_sync                       # 1k,10k,30k
//!     PODNET_BENCH_SIZES=1000,10000 cargo bench --bench proxy_sync
//!     PODNET_BENCH_MODES=nftables PODNET_BENCH_LATENCY_SIZES= PODNET_BENCH_RSS_SERVICES=0 …
//!
//! Adding a mode: one more entry in [`columns`].

#[path = "support/proxy_agent.rs"]
mod proxy_agent;

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use podnet_agent_proxy::fixture::{self, NODE, endpoint, service, slice};
use podnet_agent_proxy::nftables::NftBackend;
use podnet_agent_proxy::{Backend, Engine, NodeInfo, NodePortAddressConfig, SyncPhases};
use podnet_conntrack::Conntrack;
use podnet_k8s_model::{EndpointSliceInfo, Service};
use podnet_test_util::Netns;

/// One proxy mode under test.
struct Column {
    name: &'static str,
    make: fn(&Path, &NodeInfo) -> Box<dyn Backend>,
}

fn columns() -> Vec<Column> {
    vec![
        Column {
            name: "nftables",
            make: |ns, node| {
                Box::new(NftBackend::new(
                    Some(ns),
                    node.clone(),
                    NodePortAddressConfig::Primary,
                ))
            },
        },
        Column {
            name: "iptables",
            make: |ns, node| {
                Box::new(
                    podnet_agent_proxy_iptables::new_iptables(
                        Some(ns),
                        NodePortAddressConfig::All,
                        node,
                    )
                    .expect("iptables mode"),
                )
            },
        },
    ]
}

fn node() -> NodeInfo {
    fixture::node()
}

/// The `i`th Service (10.96.0.0/16 and beyond, in 10.100/14 for the big sizes) with its slice.
fn nth(i: u32) -> (Service, EndpointSliceInfo) {
    let cip = format!("10.{}.{}.{}", 96 + (i >> 16), (i >> 8) & 255, i & 255);
    let name = format!("svc-{i}");
    let svc = service("bench", &name, &cip, |_| {});
    let ep = |k: u32| {
        let n = i * 3 + k;
        endpoint(
            &format!("10.{}.{}.{}", 200 + (n >> 16), (n >> 8) & 255, n & 255),
            NODE,
        )
    };
    (
        svc,
        slice("bench", &name, 1, vec![ep(0), ep(1), ep(2)], |_| {}),
    )
}

fn engine(ns: &Netns, col: &Column, n: u32) -> Engine {
    engine_timed(ns, col, n).0
}

/// The engine holding `n` Services, and how long putting them into its state took (what
/// the agent does with the watches' initial lists).
fn engine_timed(ns: &Netns, col: &Column, n: u32) -> (Engine, Duration) {
    let node = node();
    let mut e = Engine::new(
        node.clone(),
        (col.make)(ns.path(), &node),
        Conntrack::new(Some(ns.path())),
    );
    let objects: Vec<_> = (0..n).map(nth).collect();
    let t = Instant::now();
    for (svc, sl) in objects {
        e.state_mut().upsert_service(svc);
        e.state_mut().upsert_slice(sl);
    }
    (e, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The median round of `rounds` by duration, and its phases.
fn median_round(mut rounds: Vec<(Duration, SyncPhases)>) -> (Duration, SyncPhases) {
    rounds.sort_by_key(|r| r.0);
    rounds[rounds.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct SyncFigures {
    full: Duration,
    resync: Duration,
    one_endpoint: Duration,
    one_endpoint_max: Duration,
    service_add: Duration,
    service_remove: Duration,
    rules: usize,
    /// Watch events into the state (all `n` Services and slices).
    state: Duration,
    /// Each operation's phases (the median round's for the repeated ones).
    phases: Vec<(&'static str, SyncPhases)>,
}

fn sync_figures(col: &Column, n: u32) -> SyncFigures {
    let ns = Netns::new(&format!("bench-{}", col.name));
    let (mut e, state) = engine_timed(&ns, col, n);
    let t = Instant::now();
    let report = e.sync(false).expect("full sync");
    let full = t.elapsed();
    let t = Instant::now();
    let resync_report = e.sync(true).expect("resync");
    let resync = t.elapsed();
    let mut rounds = Vec::new();
    for round in 0..5u32 {
        // One endpoint of one Service is replaced by another.
        let target = (round * 7919) % n;
        let (_, mut sl) = nth(target);
        sl.endpoints[2] = endpoint(&format!("10.250.{}.{}", round, target & 255), NODE);
        e.state_mut().upsert_slice(sl);
        let t = Instant::now();
        let r = e.sync(false).expect("partial sync");
        rounds.push((t.elapsed(), r.stats.phases));
        assert_eq!(r.changed_ports, 1);
    }
    let max = rounds.iter().map(|r| r.0).max().expect("rounds");
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for round in 0..5u32 {
        // A Service beyond the first n comes and goes.
        let (svc, sl) = nth(n + round);
        let name = svc.name.clone();
        e.state_mut().upsert_service(svc);
        e.state_mut().upsert_slice(sl);
        let t = Instant::now();
        let r = e.sync(false).expect("service added");
        adds.push((t.elapsed(), r.stats.phases));
        e.state_mut().remove_service(&name);
        let t = Instant::now();
        let r = e.sync(false).expect("service removed");
        removes.push((t.elapsed(), r.stats.phases));
    }
    let (one_endpoint, one_phases) = median_round(rounds);
    let (service_add, add_phases) = median_round(adds);
    let (service_remove, remove_phases) = median_round(removes);
    SyncFigures {
        full,
        resync,
        one_endpoint,
        one_endpoint_max: max,
        service_add,
        service_remove,
        rules: report.stats.rules,
        state,
        phases: vec![
            ("full sync", report.stats.phases),
            ("no-change resync", resync_report.stats.phases),
            ("1-endpoint p50", one_phases),
            ("svc add p50", add_phases),
            ("svc remove p50", remove_phases),
        ],
    }
}

/// Where the time of each operation went, one row per operation.
fn print_phases(mode: &str, n: u32, f: &SyncFigures) {
    println!(
        "\nwhere the time went, {mode} at {n} Services (watch events into the state: {})",
        ms(f.state)
    );
    println!(
        "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "operation", "plan", "read", "render", "diff", "encode", "kernel", "conntrack"
    );
    for (op, p) in &f.phases {
        println!(
            "{:<18} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            op,
            ms(p.plan),
            ms(p.read),
            ms(p.render),
            ms(p.diff),
            ms(p.encode),
            ms(p.kernel),
            ms(p.conntrack)
        );
    }
}

/// The Service whose name sorts last: the last one the rules walk (Services are kept and
/// rendered in name order).
fn last_in_rule_order(n: u32) -> u32 {
    (0..n).max_by_key(|i| format!("svc-{i}")).expect("n > 0")
}

/// Median TCP connect time through the ClusterIP of the Service that comes last in rule
/// order, whose one endpoint is a listener in a pod namespace, with `n` Services programmed.
fn connect_latency(col: &Column, n: u32) -> Duration {
    let node_ns = Netns::new(&format!("bench-c-{}", col.name));
    let pod = Netns::new("bench-pod");
    node_ns.exec(&[
        "ip",
        "link",
        "add",
        "veth-pod",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        pod.name(),
    ]);
    node_ns.exec(&["ip", "addr", "add", "10.244.1.1/24", "dev", "veth-pod"]);
    node_ns.exec(&["ip", "link", "set", "veth-pod", "up"]);
    node_ns.exec(&["ip", "route", "add", "10.96.0.0/12", "dev", "veth-pod"]);
    pod.exec(&["ip", "addr", "add", "10.244.1.2/24", "dev", "eth0"]);
    pod.exec(&["ip", "link", "set", "eth0", "up"]);
    pod.exec(&["ip", "route", "add", "default", "via", "10.244.1.1"]);
    let listener = podnet_netns::run_in(pod.path(), || TcpListener::bind("10.244.1.2:8080"))
        .expect("netns")
        .expect("bind");
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut s = s;
            let _ = s.read(&mut [0u8; 1]);
        }
    });
    let mut e = engine(&node_ns, col, n);
    let probed = last_in_rule_order(n);
    let (svc, mut sl) = nth(probed);
    sl.endpoints = vec![endpoint("10.244.1.2", NODE)];
    e.state_mut().upsert_slice(sl);
    e.sync(false).expect("sync");
    let target = SocketAddr::new(svc.cluster_ips[0], 80);
    podnet_netns::run_in(node_ns.path(), move || {
        let mut times = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            let s = TcpStream::connect_timeout(&target, Duration::from_secs(2)).expect("connect");
            times.push(t.elapsed());
            drop(s);
        }
        median(times)
    })
    .expect("netns")
}

fn main() {
    podnet_test_util::sweep_leftovers();
    let sizes: Vec<u32> = std::env::var("PODNET_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,30000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    // `PODNET_BENCH_MODES=nftables`: only those modes (all by default).
    let modes = std::env::var("PODNET_BENCH_MODES").unwrap_or_default();
    let cols: Vec<Column> = columns()
        .into_iter()
        .filter(|c| modes.is_empty() || modes.split(',').any(|m| m.trim() == c.name))
        .collect();
    println!(
        "service proxy sync ({} Services × 3 endpoints each)",
        sizes
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "{:<10} {:>8} {:>10} {:>12} {:>12} {:>16} {:>16} {:>14} {:>14}",
        "mode",
        "services",
        "rules",
        "full sync",
        "no-change resync",
        "1-endpoint p50",
        "1-endpoint max",
        "svc add p50",
        "svc remove p50"
    );
    let mut breakdowns = Vec::new();
    for col in &cols {
        for &n in &sizes {
            let f = sync_figures(col, n);
            println!(
                "{:<10} {:>8} {:>10} {:>12} {:>12} {:>16} {:>16} {:>14} {:>14}",
                col.name,
                n,
                f.rules,
                ms(f.full),
                ms(f.resync),
                ms(f.one_endpoint),
                ms(f.one_endpoint_max),
                ms(f.service_add),
                ms(f.service_remove)
            );
            if Some(&n) == sizes.iter().max() {
                breakdowns.push((col.name, n, f));
            }
        }
    }
    for (mode, n, f) in &breakdowns {
        print_phases(mode, *n, f);
    }
    println!(
        "\nfirst-connection latency through a ClusterIP, the Service last in rule order (TCP connect, median of 300)"
    );
    let latency_sizes: Vec<u32> = std::env::var("PODNET_BENCH_LATENCY_SIZES")
        .unwrap_or_else(|_| "10,1000,10000,30000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let mut lat: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for col in &cols {
        for &n in &latency_sizes {
            lat.entry(col.name).or_default().push(format!(
                "{n} Services: {:.1} µs",
                connect_latency(col, n).as_secs_f64() * 1e6
            ));
        }
    }
    for (name, v) in lat {
        println!("{name:<10} {}", v.join("   "));
    }
    let rss_n: u32 = std::env::var("PODNET_BENCH_RSS_SERVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30_000);
    println!("\npodnet agent process memory with {rss_n} Services × 3 endpoints in the API server");
    for col in cols.iter().filter(|_| rss_n > 0) {
        let m = proxy_agent::agent_memory(col.name, rss_n);
        println!(
            "{:<10} VmHWM {:.1} MiB, VmRSS {:.1} MiB (all programmed {:.1} s after its start)",
            col.name,
            m.hwm_kib as f64 / 1024.0,
            m.rss_kib as f64 / 1024.0,
            m.programmed_after.as_secs_f64()
        );
    }
}
