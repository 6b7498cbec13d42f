//! Prometheus metrics: requests by route, backend and status code, and a histogram of the
//! upstream latency (request sent → response headers) per backend, rendered as text on
//! scrape.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    upstream: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// One answered request; `route` and `backend` are empty when there was none.
    pub fn request(&self, route: &str, backend: &str, code: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((route.to_owned(), backend.to_owned(), code))
            .or_default() += 1;
    }

    pub fn upstream_latency(&self, backend: &str, took: Duration) {
        let secs = took.as_secs_f64();
        let mut upstream = self.upstream.lock().unwrap_or_else(|e| e.into_inner());
        let h = upstream.entry(backend.to_owned()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP podnet_gateway_requests_total Requests answered, by route, backend and status code.\n");
        out.push_str("# TYPE podnet_gateway_requests_total counter\n");
        for ((route, backend, code), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "podnet_gateway_requests_total{{route=\"{route}\",backend=\"{backend}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str("# HELP podnet_gateway_upstream_latency_seconds From sending a request upstream to its response headers.\n");
        out.push_str("# TYPE podnet_gateway_upstream_latency_seconds histogram\n");
        for (backend, h) in self
            .upstream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let name = "podnet_gateway_upstream_latency_seconds";
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{backend=\"{backend}\",le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{backend=\"{backend}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "{name}_sum{{backend=\"{backend}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{backend=\"{backend}\"}} {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("Ingress/default/web", "default/web:80", 200);
        m.request("Ingress/default/web", "default/web:80", 200);
        m.request("", "", 404);
        m.upstream_latency("default/web:80", Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains(
            "podnet_gateway_requests_total{route=\"Ingress/default/web\",backend=\"default/web:80\",code=\"200\"} 2\n"
        ), "{text}");
        assert!(
            text.contains(
                "podnet_gateway_requests_total{route=\"\",backend=\"\",code=\"404\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("podnet_gateway_upstream_latency_seconds_bucket{backend=\"default/web:80\",le=\"0.0025\"} 0\n"), "{text}");
        assert!(text.contains("podnet_gateway_upstream_latency_seconds_bucket{backend=\"default/web:80\",le=\"0.005\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "podnet_gateway_upstream_latency_seconds_count{backend=\"default/web:80\"} 1\n"
            ),
            "{text}"
        );
    }
}
