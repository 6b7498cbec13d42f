//! Startup, readiness and liveness probes (httpGet, tcpSocket, exec) with the upstream
//! timing fields and thresholds. A probe loop runs per container instance and reports its
//! thresholded result whenever it changes; the pod worker turns results into Ready,
//! `started` and restarts.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::container::{PodNamespaces, ProcessSpec, spawn_in};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ProbeKind {
    Startup,
    Readiness,
    Liveness,
}

/// Where a container's probes go.
#[derive(Clone, Debug)]
pub(crate) struct ProbeTarget {
    pub pod: String,
    pub container: String,
    pub pod_ip: IpAddr,
    /// Named container ports, for `port: http`.
    pub ports: HashMap<String, i32>,
    pub ns: PodNamespaces,
    /// The container's environment, for exec probes.
    pub env: Vec<(String, String)>,
}

// === impl ProbeKind ===

impl ProbeKind {
    /// As the kubelet's messages name it: `Readiness probe failed: …`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Startup => "Startup",
            Self::Readiness => "Readiness",
            Self::Liveness => "Liveness",
        }
    }

    pub fn of(self, c: &Container) -> Option<&Probe> {
        match self {
            Self::Startup => c.startup_probe.as_ref(),
            Self::Readiness => c.readiness_probe.as_ref(),
            Self::Liveness => c.liveness_probe.as_ref(),
        }
    }
}

/// Runs `probe` until cancelled, calling `report` with the result each time it changes
/// (readiness starts failed, liveness and startup unknown) and `failed` with the output of
/// every failed attempt. A startup probe stops after its first success.
pub(crate) async fn run(
    kind: ProbeKind,
    probe: Probe,
    target: ProbeTarget,
    cancel: CancellationToken,
    report: impl Fn(bool),
    failed: impl Fn(&str),
) {
    let secs =
        |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
    let initial = secs(probe.initial_delay_seconds, 0);
    let period = secs(probe.period_seconds, 10).max(Duration::from_secs(1));
    let timeout = secs(probe.timeout_seconds, 1).max(Duration::from_secs(1));
    let success_threshold = probe.success_threshold.unwrap_or(1).max(1);
    let failure_threshold = probe.failure_threshold.unwrap_or(3).max(1);
    let (mut successes, mut failures) = (0, 0);
    let mut current: Option<bool> = None;
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = tokio::time::sleep(initial) => {}
    }
    loop {
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            result = check(&probe, &target, timeout) => result,
        };
        if let Err(output) = &result {
            failed(output);
        }
        let ok = result.is_ok();
        if ok {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        let next = if ok && successes >= success_threshold {
            Some(true)
        } else if !ok && failures >= failure_threshold {
            Some(false)
        } else {
            current
        };
        if next != current && next.is_some() {
            tracing::debug!(pod = %target.pod, container = %target.container, ?kind, result = ?next, "probe result changed");
            current = next;
            report(next == Some(true));
        }
        if kind == ProbeKind::Startup && current == Some(true) {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

/// One attempt of `probe` within `timeout`; a failure carries what the kubelet's prober
/// says about it (`HTTP probe failed with statuscode: 500`).
pub(crate) async fn check(
    probe: &Probe,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), String> {
    let secs = timeout.as_secs();
    if let Some(http) = &probe.http_get {
        let port = resolve_port(&http.port, &target.ports)
            .ok_or_else(|| format!("invalid port {:?}", http.port))?;
        let host = match http.host.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => h.parse().map_err(|_| format!("invalid host {h:?}"))?,
            None => target.pod_ip,
        };
        let path = http.path.as_deref().unwrap_or("/");
        let addr = SocketAddr::new(host, port);
        if http
            .scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("HTTPS"))
        {
            // No TLS client in the lab: an HTTPS probe cannot pass.
            return Err(format!(
                "Get \"https://{addr}{path}\": HTTPS probes are not supported in the lab"
            ));
        }
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        let code = match tokio::time::timeout(timeout, http_get(addr, path, &headers)).await {
            Err(_) => Err(format!(
                "Get \"http://{addr}{path}\": context deadline exceeded (Client.Timeout \
                 exceeded while awaiting headers)"
            )),
            Ok(result) => result.map_err(|e| format!("Get \"http://{addr}{path}\": {e}")),
        }?;
        if (200..400).contains(&code) {
            Ok(())
        } else {
            Err(format!("HTTP probe failed with statuscode: {code}"))
        }
    } else if let Some(tcp) = &probe.tcp_socket {
        let port = resolve_port(&tcp.port, &target.ports)
            .ok_or_else(|| format!("invalid port {:?}", tcp.port))?;
        let host = match tcp.host.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => h.parse().map_err(|_| format!("invalid host {h:?}"))?,
            None => target.pod_ip,
        };
        let addr = SocketAddr::new(host, port);
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Err(_) => Err(format!("dial tcp {addr}: i/o timeout")),
            Ok(Err(e)) => Err(dial_error(addr, &e)),
            Ok(Ok(_)) => Ok(()),
        }
    } else if let Some(exec) = &probe.exec {
        let argv = exec.command.clone().unwrap_or_default();
        match tokio::time::timeout(timeout, exec_ok(argv.clone(), target)).await {
            Err(_) => Err(format!("command {argv:?} timed out after {secs}s")),
            Ok(result) => result,
        }
    } else {
        Err("gRPC probes are not supported in the lab".into())
    }
}

/// A refused or failed connection as Go's net package words it.
fn dial_error(addr: SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            format!("dial tcp {addr}: connect: connection refused")
        }
        _ => format!("dial tcp {addr}: connect: {e}"),
    }
}

fn resolve_port(port: &IntOrString, named: &HashMap<String, i32>) -> Option<u16> {
    match port {
        IntOrString::Int(p) => u16::try_from(*p).ok(),
        IntOrString::String(s) => match s.parse::<u16>() {
            Ok(p) => Some(p),
            Err(_) => named.get(s).and_then(|p| u16::try_from(*p).ok()),
        },
    }
}

/// The status code of `GET path`, as the kubelet's prober sends it.
async fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(String, String)],
) -> Result<u16, String> {
    let mut conn = TcpStream::connect(addr)
        .await
        .map_err(|e| dial_error(addr, &e))?;
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.37\r\nAccept: */*\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    conn.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    // The status line is all that is needed.
    while !buf.contains(&b'\n') {
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    let mut words = line.split_whitespace();
    let malformed = || "malformed HTTP response".to_string();
    words
        .next()
        .filter(|v| v.starts_with("HTTP/"))
        .ok_or_else(malformed)?;
    words
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)
}

/// Runs an exec probe's command in the container's namespaces; success is exit status 0,
/// a failure carries the command's output (as upstream's message does).
async fn exec_ok(argv: Vec<String>, target: &ProbeTarget) -> Result<(), String> {
    let spec = ProcessSpec {
        argv,
        env: target.env.clone(),
        working_dir: None,
    };
    let spawned = spawn_in(
        &target.pod,
        &target.container,
        target.ns,
        &spec,
        Stdio::piped(),
        Stdio::piped(),
    );
    match spawned {
        Ok((_, child)) => match child.wait_with_output().await {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )),
            Err(error) => Err(error.to_string()),
        },
        Err(error) => {
            tracing::debug!(pod = %target.pod, container = %target.container, %error, "exec probe");
            Err(error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    fn target(port: u16) -> ProbeTarget {
        ProbeTarget {
            pod: "ns1/p".into(),
            container: "c".into(),
            pod_ip: "127.0.0.1".parse().unwrap(),
            ports: [("http".to_owned(), i32::from(port))].into(),
            ns: PodNamespaces {
                infra: crate::process::ProcessId {
                    pid: 0,
                    start_time: 0,
                },
                own_network: false,
            },
            env: vec![],
        }
    }

    async fn serve_status(code: u16) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 512];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        port
    }

    fn probe(json: serde_json::Value) -> Probe {
        serde_json::from_value(json).unwrap()
    }

    #[tokio::test]
    async fn http_get_passes_below_400_by_named_port_and_fails_from_400() {
        let ok = serve_status(302).await;
        let p = probe(serde_json::json!({"httpGet": {"path": "/healthz", "port": "http"}}));
        assert_eq!(check(&p, &target(ok), Duration::from_secs(1)).await, Ok(()));
        let bad = serve_status(500).await;
        let p = probe(serde_json::json!({"httpGet": {"path": "/", "port": bad}}));
        assert_eq!(
            check(&p, &target(bad), Duration::from_secs(1)).await,
            Err("HTTP probe failed with statuscode: 500".into())
        );
    }

    #[tokio::test]
    async fn tcp_socket_fails_on_a_closed_port() {
        let port = serve_status(200).await;
        let p = probe(serde_json::json!({"tcpSocket": {"port": port}}));
        assert_eq!(
            check(&p, &target(port), Duration::from_secs(1)).await,
            Ok(())
        );
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let p = probe(serde_json::json!({"tcpSocket": {"port": closed}}));
        assert_eq!(
            check(&p, &target(closed), Duration::from_secs(1)).await,
            Err(format!(
                "dial tcp 127.0.0.1:{closed}: connect: connection refused"
            ))
        );
    }

    #[tokio::test]
    async fn thresholds_gate_the_reported_result() {
        let port = serve_status(200).await;
        let p = probe(
            serde_json::json!({"tcpSocket": {"port": port}, "periodSeconds": 1, "successThreshold": 2}),
        );
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let cancel = CancellationToken::new();
        let s = seen.clone();
        let task = tokio::spawn(run(
            ProbeKind::Readiness,
            p,
            target(port),
            cancel.clone(),
            move |r| s.lock().unwrap().push(r),
            |output| panic!("the probe passes: {output}"),
        ));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            seen.lock().unwrap().is_empty(),
            "one success is below successThreshold 2"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(*seen.lock().unwrap(), [true]);
        cancel.cancel();
        task.await.unwrap();
    }
}
