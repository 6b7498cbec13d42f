//! The proxy's Prometheus metrics, under kube-proxy's names where kube-proxy has one.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use podnet_agent_proxy::{SyncKind, SyncReport};

use crate::policy::PolicyMetrics;

/// kube-proxy's buckets for sync durations: 1 ms doubling, 15 buckets.
const BUCKETS: [f64; 15] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Everything /metrics shows.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    mode: &'static str,
    all: Histogram,
    full: Histogram,
    partial: Histogram,
    last_sync: Option<SystemTime>,
    last_queued: Option<SystemTime>,
    failures: u64,
    rules: usize,
    elements: usize,
    chains: usize,
    services: usize,
    conntrack_deleted: u64,
    /// NetworkPolicy's counters, served on the same endpoint.
    policy: Option<PolicyMetrics>,
}

// === impl Histogram ===

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (le, n) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

// === impl Metrics ===

impl Metrics {
    pub fn new(mode: &'static str) -> Self {
        Self {
            mode,
            ..Default::default()
        }
    }

    /// Also shows NetworkPolicy's counters.
    pub fn with_policy(mut self, policy: PolicyMetrics) -> Self {
        self.policy = Some(policy);
        self
    }

    pub fn queued(&mut self) {
        self.last_queued = Some(SystemTime::now());
    }

    pub fn synced(&mut self, r: &SyncReport, services: usize) {
        self.all.observe(r.duration);
        match r.kind {
            SyncKind::Full => self.full.observe(r.duration),
            SyncKind::Partial => self.partial.observe(r.duration),
        }
        self.last_sync = Some(SystemTime::now());
        if r.stats.rules > 0 || r.kind == SyncKind::Full {
            self.rules = r.stats.rules;
            self.elements = r.stats.elements;
            self.chains = r.stats.chains;
        }
        self.services = services;
        self.conntrack_deleted += r.conntrack_deleted;
    }

    pub fn failed(&mut self) {
        self.failures += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.all.write(
            &mut out,
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds",
        );
        self.full.write(
            &mut out,
            "kubeproxy_sync_full_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for full resyncs",
        );
        self.partial.write(
            &mut out,
            "kubeproxy_sync_partial_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for partial resyncs",
        );
        let ts = |t: Option<SystemTime>| {
            t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let mut gauge = |name: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            ts(self.last_sync).to_string(),
        );
        gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
            ts(self.last_queued).to_string(),
        );
        let mode = self.mode;
        gauge(
            "podnet_proxy_rules",
            "Rules in the proxy's tables after the last sync",
            format!("{}", self.rules),
        );
        gauge(
            "podnet_proxy_set_elements",
            "Elements of the proxy's sets and maps after the last sync",
            format!("{}", self.elements),
        );
        gauge(
            "podnet_proxy_chains",
            "Chains in the proxy's tables after the last sync",
            format!("{}", self.chains),
        );
        gauge(
            "podnet_proxy_services",
            "Services known to the proxy",
            format!("{}", self.services),
        );
        let _ = writeln!(
            out,
            "# HELP podnet_proxy_mode_info The proxy mode, as a label\n# TYPE podnet_proxy_mode_info gauge\npodnet_proxy_mode_info{{mode=\"{mode}\"}} 1"
        );
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "podnet_proxy_sync_failures_total",
            "Syncs of proxy rules that failed",
            self.failures,
        );
        counter(
            "podnet_proxy_conntrack_entries_deleted_total",
            "Stale conntrack entries deleted (UDP/SCTP endpoints gone or first endpoint)",
            self.conntrack_deleted,
        );
        if let Some(policy) = &self.policy {
            out.push_str(&policy.text());
        }
        gauge_rss(&mut out);
        out
    }

    pub fn last_sync(&self) -> Option<SystemTime> {
        self.last_sync
    }

    pub fn last_queued(&self) -> Option<SystemTime> {
        self.last_queued
    }
}

/// `process_resident_memory_bytes`, from /proc/self/statm (pages × page size).
fn gauge_rss(out: &mut String) {
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096);
    let _ = writeln!(
        out,
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {rss}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_agent_proxy::SyncStats;

    #[test]
    fn render_has_kube_proxys_names_and_counts() {
        let mut m = Metrics::new("nftables");
        m.queued();
        let report = SyncReport {
            kind: SyncKind::Partial,
            changed_ports: 1,
            stats: SyncStats {
                rules: 10,
                elements: 4,
                chains: 3,
                transaction_lines: 5,
                duration: Duration::from_millis(3),
                ..Default::default()
            },
            conntrack_deleted: 2,
            duration: Duration::from_millis(3),
        };
        m.synced(&report, 7);
        let text = m.render();
        for want in [
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.004\"} 1",
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket{le=\"0.002\"} 0",
            "kubeproxy_sync_proxy_rules_duration_seconds_count 1",
            "kubeproxy_sync_partial_proxy_rules_duration_seconds_count 1",
            "kubeproxy_sync_full_proxy_rules_duration_seconds_count 0",
            "podnet_proxy_rules 10",
            "podnet_proxy_set_elements 4",
            "podnet_proxy_mode_info{mode=\"nftables\"} 1",
            "podnet_proxy_conntrack_entries_deleted_total 2",
        ] {
            assert!(text.contains(want), "{want} missing:\n{text}");
        }
        assert!(!text.contains("kubeproxy_sync_proxy_rules_last_timestamp_seconds 0\n"));
    }
}
