//! `podnet gateway` side by side with Debian's nginx and HAProxy configured as equivalent
//! reverse proxies, in one lab: the same two hello-app backend pods, each proxy a pod on the
//! same node, wrk in a client pod on that node too (so every proxy sees the same path: client
//! pod → proxy pod → backend pods, round-robin, upstream connections kept alive). The gateway
//! is the lab's own Deployment, routing by an Ingress; nginx and HAProxy get the backends'
//! pod addresses in their configs (the gateway also goes straight to endpoints).
//!
//! Per proxy: requests/s and p50/p99 latency (`wrk --latency`, 2 threads, 32 connections,
//! 10 s) over HTTP/1.1 keep-alive and with a new connection per request (`Connection:
//! close`), then its memory (VmRSS summed over its processes, and the peak VmHWM).
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench gateway'
//!
//! Needs `wrk`, `nginx-light` and `haproxy` (Debian's). wrk shares the 2 cores with the
//! proxy under test and the backends: the figures compare the proxies on one machine, they
//! are not any proxy's ceiling. PODNET_BENCH_ROUNDS (default 1) rounds, medians shown.

#[path = "../tests/lab/support.rs"]
mod lab;
#[path = "support/stats.rs"]
mod stats;

use lab::{Lab, manifest};

const HOST: &str = "bench.example";
const DURATION: &str = "10s";

const BACKENDS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers:
      - name: hello
        image: gcr.io/google-samples/hello-app:1.0
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: backend}
  ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench}
spec:
  ingressClassName: podnet
  rules:
  - host: bench.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 8080}}}}
";

/// nginx and HAProxy as the gateway is set up: two workers/threads, round-robin over the
/// backends, upstream keep-alive, X-Forwarded-For/-Proto, no access log.
fn proxies(node: &str, backends: &[String]) -> String {
    let nginx_servers: String = backends
        .iter()
        .map(|ip| format!("        server {ip}:8080;\n"))
        .collect();
    let haproxy_servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, ip)| format!("      server b{i} {ip}:8080\n"))
        .collect();
    format!(
        "
apiVersion: v1
kind: ConfigMap
metadata: {{name: proxies}}
data:
  nginx.conf: |
    worker_processes 2;
    pid /run/bench/nginx.pid;
    error_log stderr warn;
    events {{ worker_connections 4096; }}
    http {{
      access_log off;
      client_body_temp_path /run/bench/body;
      proxy_temp_path /run/bench/proxy;
      fastcgi_temp_path /run/bench/fastcgi;
      uwsgi_temp_path /run/bench/uwsgi;
      scgi_temp_path /run/bench/scgi;
      upstream backend {{
{nginx_servers}        keepalive 64;
      }}
      server {{
        listen 8080;
        location / {{
          proxy_pass http://backend;
          proxy_http_version 1.1;
          proxy_set_header Connection \"\";
          proxy_set_header Host $host;
          proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
          proxy_set_header X-Forwarded-Proto $scheme;
        }}
      }}
    }}
  haproxy.cfg: |
    global
      nbthread 2
      maxconn 4096
    defaults
      mode http
      timeout connect 5s
      timeout client 60s
      timeout server 60s
      option forwardfor
      http-reuse always
    frontend bench
      bind :8080
      default_backend backend
    backend backend
      balance roundrobin
{haproxy_servers}---
apiVersion: v1
kind: Pod
metadata: {{name: nginx}}
spec:
  nodeName: {node}
  containers:
  - name: nginx
    image: debian
    command: [nginx, -e, stderr, -c, /etc/bench/nginx.conf, -g, 'daemon off;']
    volumeMounts: [{{name: config, mountPath: /etc/bench}}, {{name: run, mountPath: /run/bench}}]
  volumes:
  - {{name: config, configMap: {{name: proxies}}}}
  - {{name: run, emptyDir: {{}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: haproxy}}
spec:
  nodeName: {node}
  containers:
  - name: haproxy
    image: debian
    command: [haproxy, -db, -f, /etc/bench/haproxy.cfg]
    volumeMounts: [{{name: config, mountPath: /etc/bench}}]
  volumes:
  - {{name: config, configMap: {{name: proxies}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  nodeName: {node}
  containers:
  - name: wrk
    image: debian
    command: [sleep, infinity]
"
    )
}

/// One wrk run's figures.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
}

/// One proxy under test: where wrk sends requests and the pod whose processes are counted.
struct Proxy {
    name: &'static str,
    url: String,
    namespace: &'static str,
    pod: String,
}

fn main() {
    if !stats::selected("gateway") {
        return;
    }
    podnet_test_util::sweep_leftovers();
    let rounds = stats::rounds(1);
    let lab = Lab::up("bench-gw", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let backends = manifest(tmp.path(), "backends.yaml", BACKENDS);
    lab.kubectl_ok(&["apply", "-f", backends.to_str().unwrap()]);
    lab.kubectl_ok(&["rollout", "status", "deployment/backend", "--timeout=180s"]);
    let gw = "podnet-gateway";
    lab.kubectl_ok(&[
        "rollout",
        "status",
        "-n",
        gw,
        "deployment/podnet-gateway",
        "--timeout=180s",
    ]);
    let gateway_pod = lab
        .kubectl_ok(&[
            "get",
            "pods",
            "-n",
            gw,
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .trim()
        .to_owned();
    let jsonpath = |ns: &str, pod: &str, path: &str| {
        lab.kubectl_ok(&[
            "get",
            "pod",
            "-n",
            ns,
            pod,
            "-o",
            &format!("jsonpath={path}"),
        ])
        .trim()
        .to_owned()
    };
    let node = jsonpath(gw, &gateway_pod, "{.spec.nodeName}");
    let gateway_ip = jsonpath(gw, &gateway_pod, "{.status.podIP}");
    let backend_ips: Vec<String> = lab
        .kubectl_ok(&[
            "get",
            "pods",
            "-l",
            "app=backend",
            "-o",
            "jsonpath={.items[*].status.podIP}",
        ])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let pods = manifest(tmp.path(), "proxies.yaml", &proxies(&node, &backend_ips));
    lab.kubectl_ok(&["apply", "-f", pods.to_str().unwrap()]);
    for pod in ["nginx", "haproxy", "client"] {
        lab.kubectl_ok(&[
            "wait",
            "--for=condition=Ready",
            &format!("pod/{pod}"),
            "--timeout=120s",
        ]);
    }
    let ip = |pod: &str| jsonpath("default", pod, "{.status.podIP}");
    let candidates = [
        Proxy {
            name: "podnet gateway",
            url: format!("http://{gateway_ip}:80/"),
            namespace: gw,
            pod: gateway_pod.clone(),
        },
        Proxy {
            name: "nginx 1.22",
            url: format!("http://{}:8080/", ip("nginx")),
            namespace: "default",
            pod: "nginx".into(),
        },
        Proxy {
            name: "HAProxy 2.6",
            url: format!("http://{}:8080/", ip("haproxy")),
            namespace: "default",
            pod: "haproxy".into(),
        },
    ];
    // Each answers before it is measured (the gateway once its Ingress is served).
    for proxy in &candidates {
        lab::eventually(60, &format!("{} to answer", proxy.name), || {
            let out = lab.podnet(&[
                "exec",
                "client",
                "--",
                "curl",
                "-sf",
                "-m",
                "2",
                "-H",
                &format!("Host: {HOST}"),
                &proxy.url,
            ]);
            out.status.success().then_some(())
        });
    }

    let mut keepalive: Vec<Vec<Run>> = vec![Vec::new(); candidates.len()];
    let mut fresh: Vec<Vec<Run>> = vec![Vec::new(); candidates.len()];
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for (i, proxy) in candidates.iter().enumerate() {
            keepalive[i].push(wrk(&lab, &proxy.url, &[]));
            fresh[i].push(wrk(&lab, &proxy.url, &["-H", "Connection: close"]));
        }
    }

    println!(
        "\n## gateway vs nginx vs HAProxy ({rounds} rounds, medians; wrk -t2 -c32 -d{DURATION})\n"
    );
    println!(
        "| proxy | keep-alive req/s | p50 | p99 | new connection per request req/s | p50 | p99 | failed | RSS after (peak) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (i, proxy) in candidates.iter().enumerate() {
        let (k, f) = (median_run(&keepalive[i]), median_run(&fresh[i]));
        let (rss, hwm) = memory(&jsonpath(
            proxy.namespace,
            &proxy.pod,
            "{.status.containerStatuses[0].containerID}",
        ));
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {} | {rss:.1} MB ({hwm:.1} MB) |",
            proxy.name,
            k.rps,
            k.p50_ms,
            k.p99_ms,
            f.rps,
            f.p50_ms,
            f.p99_ms,
            k.failed + f.failed,
        );
    }
}

/// wrk from the client pod against `url` with `extra` arguments.
fn wrk(lab: &Lab, url: &str, extra: &[&str]) -> Run {
    let host = format!("Host: {HOST}");
    let args = [
        &[
            "exec",
            "client",
            "--",
            "wrk",
            "-t",
            "2",
            "-c",
            "32",
            "-d",
            DURATION,
            "--latency",
            "-H",
            &host,
        ][..],
        extra,
        &[url],
    ]
    .concat();
    let out = lab.ok(&args);
    parse_wrk(&out).unwrap_or_else(|| panic!("wrk's report unreadable:\n{out}"))
}

/// Requests/s, the 50% and 99% latencies and the failures (non-2xx/3xx and socket errors)
/// of a `wrk --latency` report.
fn parse_wrk(report: &str) -> Option<Run> {
    let mut run = Run::default();
    for line in report.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => run.rps = n.parse().ok()?,
            ["50%", t] => run.p50_ms = millis(t)?,
            ["99%", t] => run.p99_ms = millis(t)?,
            ["Non-2xx", "or", "3xx", "responses:", n] => run.failed += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                run.failed += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    (run.rps > 0.0).then_some(run)
}

/// wrk's `1.23ms`, `456.00us`, `1.02s`, in milliseconds.
fn millis(t: &str) -> Option<f64> {
    let (n, scale) = if let Some(n) = t.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60e3)
    } else {
        (t.strip_suffix('s')?, 1e3)
    };
    Some(n.parse::<f64>().ok()? * scale)
}

fn median_run(runs: &[Run]) -> Run {
    let pick = |f: fn(&Run) -> f64| stats::median(&runs.iter().map(f).collect::<Vec<_>>());
    Run {
        rps: pick(|r| r.rps),
        p50_ms: pick(|r| r.p50_ms),
        p99_ms: pick(|r| r.p99_ms),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

/// (VmRSS, VmHWM) in MB of the container's process and its descendants (nginx's workers),
/// from its containerID `podnet://PID`.
fn memory(container_id: &str) -> (f64, f64) {
    let pid: u32 = container_id
        .strip_prefix("podnet://")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("containerID {container_id:?}"));
    let mut pending = vec![pid];
    let (mut rss, mut hwm) = (0.0, 0.0);
    while let Some(pid) = pending.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        rss += field("VmRSS:");
        hwm += field("VmHWM:");
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten();
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            pending.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    (rss, hwm)
}
