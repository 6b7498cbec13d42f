//! The proxy's HTTP side: /healthz and /livez on the healthz address (kube-proxy's port
//! 10256, on every address: load balancers probe it), /metrics on the metrics address
//! (kube-proxy's 127.0.0.1:10249: only the node reads them), and one health-check server per
//! ETP Local Service on its healthCheckNodePort, answering as kube-proxy does (200 with local
//! endpoints, else 503).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use podnet_agent_proxy::HealthCheck;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::metrics::Metrics;

/// What the HTTP handlers read, updated by the sync loop.
pub type Shared = Arc<Mutex<Metrics>>;

/// Serves /healthz and /livez on `listener` until `shutdown` completes.
pub async fn serve_healthz(
    listener: TcpListener,
    shared: Shared,
    health_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/livez", get(healthz))
        .with_state((shared, health_timeout));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves /metrics on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    listener: TcpListener,
    shared: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

type HealthState = (Shared, Duration);

async fn healthz(State((shared, timeout)): State<HealthState>) -> Response {
    let (last_sync, last_queued) = {
        let m = shared.lock().expect("metrics lock");
        (m.last_sync(), m.last_queued())
    };
    let now = SystemTime::now();
    let healthy = healthy(last_sync, last_queued, now, timeout);
    let body = serde_json::json!({
        "lastUpdated": last_sync.map(rfc3339).unwrap_or_default(),
        "currentTime": rfc3339(now),
        "nodeEligible": true,
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, body.to_string(), HeaderMap::new())
}

/// kube-proxy's rule: unhealthy when a change was queued more than `timeout` ago and no
/// sync has succeeded since.
pub fn healthy(
    last_sync: Option<SystemTime>,
    last_queued: Option<SystemTime>,
    now: SystemTime,
    timeout: Duration,
) -> bool {
    match last_queued {
        None => true,
        Some(q) if last_sync.is_some_and(|s| s >= q) => true,
        Some(q) => now.duration_since(q).unwrap_or_default() <= timeout,
    }
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let text = shared.lock().expect("metrics lock").render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

fn json(status: StatusCode, body: String, mut headers: HeaderMap) -> Response {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    (status, headers, body).into_response()
}

fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's civil_from_days.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

// === service health checks ===

/// The health-check servers of ETP Local Services, one per healthCheckNodePort.
#[derive(Default)]
pub struct HealthServers {
    servers: BTreeMap<u16, (watch::Sender<HealthCheck>, tokio::task::JoinHandle<()>)>,
}

impl HealthServers {
    /// Starts, updates and stops servers to match `checks`.
    pub async fn update(&mut self, checks: Vec<HealthCheck>) {
        let wanted: BTreeMap<u16, HealthCheck> =
            checks.into_iter().map(|c| (c.node_port, c)).collect();
        self.servers.retain(|port, (_, task)| {
            let keep = wanted.contains_key(port);
            if !keep {
                task.abort();
                tracing::info!(port, "health check server stopped");
            }
            keep
        });
        for (port, check) in wanted {
            if let Some((tx, _)) = self.servers.get(&port) {
                tx.send_if_modified(|c| {
                    let changed = *c != check;
                    *c = check.clone();
                    changed
                });
                continue;
            }
            let addr = SocketAddr::from(([0, 0, 0, 0], port));
            let listener = match TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(error) => {
                    tracing::warn!(%error, port, service = %check.service, "cannot serve a health check");
                    continue;
                }
            };
            tracing::info!(port, service = %check.service, "health check server started");
            let (tx, rx) = watch::channel(check);
            let task = tokio::spawn(async move {
                let app = Router::new().fallback(get(service_health)).with_state(rx);
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::warn!(%error, port, "health check server failed");
                }
            });
            self.servers.insert(port, (tx, task));
        }
    }
}

impl Drop for HealthServers {
    fn drop(&mut self) {
        for (_, task) in self.servers.values() {
            task.abort();
        }
    }
}

async fn service_health(State(rx): State<watch::Receiver<HealthCheck>>) -> Response {
    let check = rx.borrow().clone();
    let (status, body, headers) = service_health_answer(&check);
    json(status, body, headers)
}

/// kube-proxy's answer: the Service, its local endpoint count, 200 when there is one.
pub fn service_health_answer(check: &HealthCheck) -> (StatusCode, String, HeaderMap) {
    let body = serde_json::json!({
        "service": {"namespace": check.service.namespace, "name": check.service.name},
        "localEndpoints": check.local_endpoints,
        "serviceProxyHealthy": true,
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        "X-Load-Balancing-Endpoint-Weight",
        HeaderValue::from(check.local_endpoints as u64),
    );
    let status = if check.local_endpoints > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body.to_string(), headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_k8s_model::ServiceName;

    #[test]
    fn healthz_fails_only_when_a_queued_change_waits_too_long() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let s = Duration::from_secs;
        let timeout = s(60);
        assert!(healthy(None, None, t0, timeout));
        assert!(healthy(None, Some(t0), t0 + s(30), timeout), "starting up");
        assert!(
            !healthy(None, Some(t0), t0 + s(61), timeout),
            "never synced"
        );
        assert!(
            healthy(Some(t0 + s(1)), Some(t0), t0 + s(600), timeout),
            "synced since"
        );
        assert!(
            !healthy(Some(t0), Some(t0 + s(1)), t0 + s(100), timeout),
            "stuck"
        );
    }

    #[test]
    fn service_health_answers_like_kube_proxy() {
        let mut c = HealthCheck {
            service: ServiceName::new("ns1", "web"),
            node_port: 32000,
            local_endpoints: 2,
        };
        let (status, body, headers) = service_health_answer(&c);
        assert_eq!(status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["service"]["name"], "web");
        assert_eq!(v["localEndpoints"], 2);
        assert_eq!(headers["X-Load-Balancing-Endpoint-Weight"], "2");
        c.local_endpoints = 0;
        assert_eq!(service_health_answer(&c).0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(rfc3339(t), "2026-11-18T11:06:40Z");
    }
}
