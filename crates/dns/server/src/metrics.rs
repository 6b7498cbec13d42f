//! Prometheus metrics under CoreDNS's names (`coredns_dns_requests_total`,
//! `coredns_dns_responses_total{rcode}`, `coredns_cache_hits_total`,
//! `coredns_forward_request_duration_seconds`, …), kept in atomics on the answer path and
//! rendered as text on scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use podnet_dns_records::wire;

/// CoreDNS's request-duration buckets: 0.25 ms doubling to 8.192 s.
const BUCKETS: usize = 16;

const TYPES: [u16; 9] = [
    wire::TYPE_A,
    wire::TYPE_AAAA,
    wire::TYPE_SRV,
    wire::TYPE_PTR,
    wire::TYPE_CNAME,
    wire::TYPE_TXT,
    wire::TYPE_SOA,
    wire::TYPE_NS,
    15,
];
const NTYPES: usize = TYPES.len() + 1;
const RCODES: [u16; 7] = [0, 1, 2, 3, 4, 5, 16];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    server: Mutex<(String, String)>,
    requests: [[AtomicU64; NTYPES]; 2],
    responses: [AtomicU64; RCODES.len() + 1],
    duration: [Histogram; NTYPES],
    pub cache_hits_success: AtomicU64,
    pub cache_hits_denial: AtomicU64,
    pub cache_misses: AtomicU64,
    pub cache_prefetch: AtomicU64,
    pub cache_evictions: AtomicU64,
    pub reload_failed: AtomicU64,
    /// Answered from the cluster index (podnet's own; CoreDNS has no equivalent).
    pub kubernetes_answers: AtomicU64,
    upstreams: Mutex<BTreeMap<(SocketAddr, &'static str), Upstream>>,
}

#[derive(Default)]
struct Upstream {
    requests: u64,
    buckets: [u64; BUCKETS],
    sum_ns: u64,
}

fn type_index(t: u16) -> usize {
    TYPES.iter().position(|x| *x == t).unwrap_or(TYPES.len())
}

fn bucket_bound(i: usize) -> f64 {
    0.00025 * (1u64 << i) as f64
}

fn bucket_of(d: Duration) -> usize {
    let ns = d.as_nanos() as u64;
    (0..BUCKETS)
        .find(|&i| ns <= 250_000u64 << i)
        .unwrap_or(BUCKETS)
}

impl Metrics {
    /// The `server` and `zone` labels (CoreDNS: `dns://:53` and the block's zone).
    pub fn set_server(&self, server: String, zone: String) {
        *self.server.lock().unwrap() = (server, zone);
    }

    pub fn request(&self, proto: Proto, qtype: u16) {
        self.requests[proto as usize][type_index(qtype)].fetch_add(1, Relaxed);
    }

    pub fn response(&self, rcode: u16, qtype: u16, took: Duration) {
        let i = RCODES
            .iter()
            .position(|r| *r == rcode)
            .unwrap_or(RCODES.len());
        self.responses[i].fetch_add(1, Relaxed);
        let h = &self.duration[type_index(qtype)];
        let b = bucket_of(took);
        if b < BUCKETS {
            h.buckets[b].fetch_add(1, Relaxed);
        }
        h.count.fetch_add(1, Relaxed);
        h.sum_ns.fetch_add(took.as_nanos() as u64, Relaxed);
    }

    pub fn forward(&self, to: SocketAddr, rcode: u16, took: Duration) {
        let rc = wire::rcode_name(rcode);
        let mut map = self.upstreams.lock().unwrap();
        let u = map.entry((to, rc)).or_default();
        u.requests += 1;
        let b = bucket_of(took);
        if b < BUCKETS {
            u.buckets[b] += 1;
        }
        u.sum_ns += took.as_nanos() as u64;
    }

    /// The Prometheus text exposition. `cache_entries` is (success, denial).
    pub fn render(&self, cache_entries: (usize, usize)) -> String {
        let (server, zone) = self.server.lock().unwrap().clone();
        let sz = format!("server=\"{server}\",zone=\"{zone}\"");
        let mut o = String::new();
        let types = || {
            TYPES
                .iter()
                .map(|t| wire::type_name(*t))
                .chain(["other"])
                .enumerate()
        };
        head(
            &mut o,
            "coredns_dns_requests_total",
            "counter",
            "Counter of DNS requests made per zone, protocol and family.",
        );
        for (p, proto) in ["udp", "tcp"].iter().enumerate() {
            for (i, name) in types() {
                let v = self.requests[p][i].load(Relaxed);
                if v > 0 {
                    let _ = writeln!(
                        o,
                        "coredns_dns_requests_total{{{sz},proto=\"{proto}\",family=\"1\",type=\"{name}\"}} {v}"
                    );
                }
            }
        }
        head(
            &mut o,
            "coredns_dns_responses_total",
            "counter",
            "Counter of response status codes.",
        );
        for (i, rc) in RCODES
            .iter()
            .map(|r| wire::rcode_name(*r))
            .chain(["other"])
            .enumerate()
        {
            let v = self.responses[i].load(Relaxed);
            if v > 0 {
                let _ = writeln!(
                    o,
                    "coredns_dns_responses_total{{{sz},rcode=\"{rc}\",plugin=\"\"}} {v}"
                );
            }
        }
        head(
            &mut o,
            "coredns_dns_request_duration_seconds",
            "histogram",
            "Histogram of the time (in seconds) each request took per zone.",
        );
        for (i, name) in types() {
            let h = &self.duration[i];
            let count = h.count.load(Relaxed);
            if count == 0 {
                continue;
            }
            let labels = format!("{sz},type=\"{name}\"");
            let buckets: Vec<u64> = h.buckets.iter().map(|b| b.load(Relaxed)).collect();
            histogram(
                &mut o,
                "coredns_dns_request_duration_seconds",
                &labels,
                &buckets,
                count,
                h.sum_ns.load(Relaxed),
            );
        }
        head(
            &mut o,
            "coredns_cache_entries",
            "gauge",
            "The number of elements in the cache.",
        );
        let _ = writeln!(
            o,
            "coredns_cache_entries{{server=\"{server}\",type=\"success\",zones=\"{zone}\",view=\"\"}} {}",
            cache_entries.0
        );
        let _ = writeln!(
            o,
            "coredns_cache_entries{{server=\"{server}\",type=\"denial\",zones=\"{zone}\",view=\"\"}} {}",
            cache_entries.1
        );
        head(
            &mut o,
            "coredns_cache_hits_total",
            "counter",
            "The count of cache hits.",
        );
        let _ = writeln!(
            o,
            "coredns_cache_hits_total{{server=\"{server}\",type=\"success\",zones=\"{zone}\",view=\"\"}} {}",
            self.cache_hits_success.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "coredns_cache_hits_total{{server=\"{server}\",type=\"denial\",zones=\"{zone}\",view=\"\"}} {}",
            self.cache_hits_denial.load(Relaxed)
        );
        head(
            &mut o,
            "coredns_cache_misses_total",
            "counter",
            "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
        );
        let _ = writeln!(
            o,
            "coredns_cache_misses_total{{server=\"{server}\",zones=\"{zone}\",view=\"\"}} {}",
            self.cache_misses.load(Relaxed)
        );
        head(
            &mut o,
            "coredns_cache_prefetch_total",
            "counter",
            "The number of times the cache has prefetched a cached item.",
        );
        let _ = writeln!(
            o,
            "coredns_cache_prefetch_total{{server=\"{server}\",zones=\"{zone}\",view=\"\"}} {}",
            self.cache_prefetch.load(Relaxed)
        );
        head(
            &mut o,
            "coredns_cache_evictions_total",
            "counter",
            "The count of cache evictions.",
        );
        let _ = writeln!(
            o,
            "coredns_cache_evictions_total{{server=\"{server}\",type=\"success\",zones=\"{zone}\",view=\"\"}} {}",
            self.cache_evictions.load(Relaxed)
        );
        let upstreams = self.upstreams.lock().unwrap();
        head(
            &mut o,
            "coredns_forward_requests_total",
            "counter",
            "Counter of requests made per upstream.",
        );
        let mut per_to: BTreeMap<SocketAddr, u64> = BTreeMap::new();
        for ((to, _), u) in upstreams.iter() {
            *per_to.entry(*to).or_default() += u.requests;
        }
        for (to, n) in &per_to {
            let _ = writeln!(o, "coredns_forward_requests_total{{to=\"{to}\"}} {n}");
        }
        head(
            &mut o,
            "coredns_forward_responses_total",
            "counter",
            "Counter of responses received per upstream.",
        );
        for ((to, rc), u) in upstreams.iter() {
            let _ = writeln!(
                o,
                "coredns_forward_responses_total{{to=\"{to}\",rcode=\"{rc}\"}} {}",
                u.requests
            );
        }
        head(
            &mut o,
            "coredns_forward_request_duration_seconds",
            "histogram",
            "Histogram of the time each request took.",
        );
        for ((to, rc), u) in upstreams.iter() {
            let labels = format!("to=\"{to}\",rcode=\"{rc}\"");
            histogram(
                &mut o,
                "coredns_forward_request_duration_seconds",
                &labels,
                &u.buckets,
                u.requests,
                u.sum_ns,
            );
        }
        drop(upstreams);
        head(
            &mut o,
            "coredns_reload_failed_total",
            "counter",
            "Counter of the number of failed reload attempts.",
        );
        let _ = writeln!(
            o,
            "coredns_reload_failed_total {}",
            self.reload_failed.load(Relaxed)
        );
        head(
            &mut o,
            "coredns_panics_total",
            "counter",
            "A metrics that counts the number of panics.",
        );
        let _ = writeln!(o, "coredns_panics_total 0");
        head(
            &mut o,
            "podnet_dns_kubernetes_answers_total",
            "counter",
            "Answers given from the cluster index.",
        );
        let _ = writeln!(
            o,
            "podnet_dns_kubernetes_answers_total {}",
            self.kubernetes_answers.load(Relaxed)
        );
        o
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(o: &mut String, name: &str, labels: &str, buckets: &[u64], count: u64, sum_ns: u64) {
    let mut cum = 0;
    for (i, b) in buckets.iter().enumerate() {
        cum += b;
        let _ = writeln!(
            o,
            "{name}_bucket{{{labels},le=\"{}\"}} {cum}",
            bucket_bound(i)
        );
    }
    let _ = writeln!(o, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(o, "{name}_sum{{{labels}}} {}", sum_ns as f64 / 1e9);
    let _ = writeln!(o, "{name}_count{{{labels}}} {count}");
}
