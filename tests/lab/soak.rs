//! A soak: a lab under continuous churn, with probes running and invariants checked after
//! every change — shared by the suite's short run (`tests/lab_soak.rs`) and the hour-long one
//! (`benches/soak.rs`), which prints the figures.
//!
//! - **Churn**, one change per round from a fixed-seed generator: a Deployment + Service
//!   created (1-3 replicas), scaled (0-3: EndpointSlices grow, shrink, empty), or deleted.
//! - **Probes that never stop**: a DaemonSet `prober` curls the `anchor` Service by its DNS name
//!   five times a second from every node; the anchor's endpoints never change, so not one of
//!   those requests may fail while everything around them churns (incremental proxy syncs and
//!   DNS updates must leave the other Services alone).
//! - **Invariants**, once the round's change has converged: every ready endpoint of every
//!   Service answers through its ClusterIP from every node, and only ready endpoints do; a
//!   Service without endpoints is refused at once; each node's IPAM holds exactly the
//!   addresses of the pods on it (none leaked); and the RSS of every podnet process is sampled.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use podnet_test_util::Rng;
use serde_json::Value;

use super::support::{Lab, eventually, manifest};

/// At most this many churned Services exist at once.
const MAX_SERVICES: usize = 5;
/// Requests per (node, Service) check: enough that each of 3 endpoints is seen (a miss has
/// odds 3·(2/3)^40 ≈ 3·10⁻⁷).
const TRIES: usize = 40;
/// How long a round's change may take to converge before the soak fails.
const CONVERGE_SECS: u64 = 120;

const BASE: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: anchor}
spec:
  replicas: 3
  selector: {matchLabels: {app: anchor}}
  template:
    metadata: {labels: {app: anchor}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: anchor}
spec:
  selector: {app: anchor}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: prober}
spec:
  selector: {matchLabels: {app: prober}}
  template:
    metadata: {labels: {app: prober}}
    spec:
      tolerations: [{operator: Exists}]
      containers:
      - name: probe
        image: busybox
        # Silent until the anchor first answers (its pods start with the prober's); from then
        # on one line per request: ok, or FAIL and curl's error.
        command: [sh, -c, 'u=http://anchor.default.svc.cluster.local/hostname; until curl -s -m 2 -o /dev/null $u; do sleep 0.2; done; while true; do if e=$(curl -sS -m 2 -o /dev/null $u 2>&1); then echo ok; else echo \"FAIL $e\"; fi; sleep 0.2; done']
";

/// What a soak saw.
#[derive(Debug, Default)]
pub struct Report {
    pub rounds: usize,
    /// Changes applied, by kind.
    pub changes: BTreeMap<&'static str, usize>,
    /// The probers' requests to the anchor Service, and how many failed.
    pub probes_sent: usize,
    pub probes_failed: usize,
    /// Requests of the invariant checks, and the invariant checks themselves.
    pub check_requests: usize,
    pub checks: usize,
    /// Every invariant that did not hold, with the round and the evidence.
    pub violations: Vec<String>,
    /// RSS (KiB) of each podnet process, sampled once per round, by process.
    pub rss: BTreeMap<String, Vec<(Duration, u64)>>,
}

/// Runs the soak on `lab` (at least two nodes) for `duration`.
pub fn run(lab: &Lab, duration: Duration, seed: u64) -> Report {
    let tmp = tempfile::tempdir().unwrap();
    lab.ok(&[
        "apply",
        "-f",
        manifest(tmp.path(), "base.yaml", BASE).to_str().unwrap(),
    ]);
    let nodes = nodes(lab);
    let mut soak = Soak {
        lab,
        tmp,
        nodes,
        rng: Rng::new(seed),
        services: BTreeMap::new(),
        next_id: 0,
        report: Report::default(),
        started: Instant::now(),
    };
    soak.converge();
    while soak.started.elapsed() < duration {
        soak.round();
    }
    soak.count_probes();
    soak.report
}

struct Soak<'a> {
    lab: &'a Lab,
    tmp: tempfile::TempDir,
    nodes: Vec<String>,
    rng: Rng,
    /// Churned Services (= their Deployments) and their replicas.
    services: BTreeMap<String, u32>,
    next_id: usize,
    report: Report,
    started: Instant,
}

impl Soak<'_> {
    fn round(&mut self) {
        self.report.rounds += 1;
        self.change();
        self.converge();
        self.check_services();
        self.check_ipam();
        self.sample_rss();
    }

    /// One change, chosen by the generator (creation when there is nothing to change).
    fn change(&mut self) {
        let existing: Vec<String> = self.services.keys().cloned().collect();
        let pick = self.rng.below(3);
        if existing.is_empty() || (pick == 0 && existing.len() < MAX_SERVICES) {
            let name = format!("churn-{}", self.next_id);
            self.next_id += 1;
            let replicas = 1 + self.rng.below(3) as u32;
            let file = manifest(
                self.tmp.path(),
                &format!("{name}.yaml"),
                &churned(&name, replicas),
            );
            self.lab.ok(&["apply", "-f", file.to_str().unwrap()]);
            self.services.insert(name, replicas);
            *self.report.changes.entry("created").or_default() += 1;
        } else if pick == 2 {
            let name = &existing[self.rng.below(existing.len())];
            self.lab
                .kubectl_ok(&["delete", "deployment,service", name, "--wait=false"]);
            self.services.remove(name);
            *self.report.changes.entry("deleted").or_default() += 1;
        } else {
            let name = &existing[self.rng.below(existing.len())];
            let replicas = self.rng.below(4) as u32;
            self.lab.kubectl_ok(&[
                "scale",
                "deployment",
                name,
                &format!("--replicas={replicas}"),
            ]);
            self.services.insert(name.clone(), replicas);
            *self.report.changes.entry("scaled").or_default() += 1;
        }
    }

    /// Waits until every Deployment has exactly its replicas ready and no pod of a churned
    /// or deleted app is left over (terminating pods gone).
    fn converge(&self) {
        eventually(CONVERGE_SECS, "the churn to converge", || {
            let pods = self.lab.json(&["get", "pods"]);
            let mut running: BTreeMap<String, u32> = BTreeMap::new();
            for pod in pods["items"].as_array().unwrap() {
                let app = pod["metadata"]["labels"]["app"].as_str().unwrap_or("");
                if pod["metadata"]["deletionTimestamp"].is_string() || !ready(pod) {
                    if app != "prober" && app != "anchor" {
                        return None;
                    }
                    continue;
                }
                *running.entry(app.to_owned()).or_default() += 1;
            }
            let settled = self
                .services
                .iter()
                .all(|(name, want)| running.get(name).copied().unwrap_or(0) == *want)
                && running.keys().all(|app| {
                    self.services.contains_key(app) || app == "anchor" || app == "prober"
                })
                && running.get("anchor") == Some(&3)
                && running.get("prober").copied().unwrap_or(0) as usize == self.nodes.len();
            settled.then_some(())
        });
    }

    /// Through its ClusterIP, from every node: a Service answers from exactly its ready
    /// endpoints (each of them seen), and one without endpoints refuses.
    fn check_services(&mut self) {
        let round = self.report.rounds;
        let services: Vec<(String, u32)> =
            self.services.iter().map(|(n, r)| (n.clone(), *r)).collect();
        for (name, replicas) in services {
            let ip = self.lab.json(&["get", "svc", &name])["spec"]["clusterIP"]
                .as_str()
                .unwrap()
                .to_owned();
            // The proxy programs what the EndpointSlices say, once they say it: wait for them
            // to list the converged pods before holding the data path to them.
            let ready = eventually(60, &format!("{name}'s EndpointSlices"), || {
                let r = ready_endpoints(self.lab, &name);
                (r.len() == replicas as usize).then_some(r)
            });
            for node in self.nodes.clone() {
                self.report.checks += 1;
                if ready.is_empty() {
                    let out = self.lab.podnet(&[
                        "node-exec",
                        &node,
                        "--",
                        "curl",
                        "-sS",
                        "-m",
                        "5",
                        &format!("http://{ip}/hostname"),
                    ]);
                    self.report.check_requests += 1;
                    if out.status.code() != Some(7) {
                        self.report.violations.push(format!(
                            "round {round}: {name} ({ip}) has no endpoints, but from {node} \
                             curl did not get refused: {:?}",
                            out.status.code()
                        ));
                    }
                    continue;
                }
                // The proxy follows the EndpointSlices within its --min-sync-period: a check
                // that fails is retried for a while, and only a state that does not converge
                // is a violation.
                let wanted: BTreeSet<String> = ready.iter().cloned().collect();
                let converged = poll(Duration::from_secs(30), || {
                    let seen = self.answers(&node, &ip);
                    let got: BTreeSet<String> = seen.iter().cloned().collect();
                    if seen.len() == TRIES && got == wanted {
                        Ok(())
                    } else {
                        Err((seen, got))
                    }
                });
                if let Err((seen, got)) = converged {
                    self.report.violations.push(format!(
                        "round {round}: {name} ({ip}) from {node}: {} of {TRIES} answered, from \
                         {got:?}; ready endpoints {wanted:?}",
                        seen.len()
                    ));
                }
            }
        }
    }

    /// `TRIES` requests from `node` to `ip`; the hostnames that answered.
    fn answers(&mut self, node: &str, ip: &str) -> Vec<String> {
        let script =
            format!("for i in $(seq {TRIES}); do curl -sS -m 3 http://{ip}/hostname; echo; done");
        self.report.check_requests += TRIES;
        let out = self
            .lab
            .podnet(&["node-exec", node, "--", "sh", "-c", &script]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Each node's IPAM holds exactly the addresses of its pods (after their teardown).
    fn check_ipam(&mut self) {
        let round = self.report.rounds;
        for node in self.nodes.clone() {
            self.report.checks += 1;
            let dir = self.lab.dir().join("nodes").join(&node).join("ipam");
            let settled = poll(Duration::from_secs(60), || {
                let pods = pod_ips_on(self.lab, &node);
                let reserved = reserved(&dir);
                (pods == reserved).then_some(()).ok_or((pods, reserved))
            });
            if let Err((pods, reserved)) = settled {
                self.report.violations.push(format!(
                    "round {round}: {node}: IPAM holds {reserved:?}, its pods have {pods:?}"
                ));
            }
        }
    }

    fn sample_rss(&mut self) {
        let at = self.started.elapsed();
        for (name, pid) in podnet_processes(self.lab) {
            if let Some(kib) = rss_kib(pid) {
                self.report.rss.entry(name).or_default().push((at, kib));
            }
        }
    }

    /// The probers' log lines, counted.
    fn count_probes(&mut self) {
        let logs = self.lab.kubectl_ok(&[
            "logs",
            "-l",
            "app=prober",
            "--tail=-1",
            "--timestamps",
            "--prefix",
            "--max-log-requests=10",
        ]);
        for line in logs.lines() {
            // `[pod/NAME/probe] TIMESTAMP ok|FAIL …`
            let probe = line.splitn(3, ' ').nth(2).unwrap_or("");
            if probe == "ok" {
                self.report.probes_sent += 1;
            } else if probe.starts_with("FAIL") {
                self.report.probes_sent += 1;
                self.report.probes_failed += 1;
                self.report
                    .violations
                    .push(format!("probe to the anchor Service: {line}"));
            }
        }
    }
}

fn churned(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{{name: http, containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: http}}]
"
    )
}

fn nodes(lab: &Lab) -> Vec<String> {
    lab.json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The pod names behind `service`'s ready endpoints.
fn ready_endpoints(lab: &Lab, service: &str) -> Vec<String> {
    let slices = lab.json(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={service}"),
    ]);
    let mut names: Vec<String> = slices["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["conditions"]["ready"] != false)
        .filter_map(|e| e["targetRef"]["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The addresses of the pods on `node` that have one of their own (not hostNetwork).
fn pod_ips_on(lab: &Lab, node: &str) -> BTreeSet<IpAddr> {
    lab.json(&["get", "pods", "-A"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["spec"]["nodeName"] == node && p["spec"]["hostNetwork"] != true)
        .filter_map(|p| p["status"]["podIP"].as_str()?.parse().ok())
        .collect()
}

/// The addresses a node's IPAM has reserved: one file per address in each network's dir.
fn reserved(ipam: &Path) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    for net in std::fs::read_dir(ipam).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(net.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(ip) = f.file_name().to_string_lossy().parse() {
                out.insert(ip);
            }
        }
    }
    out
}

/// The lab's daemon and the node components it supervises, by name.
fn podnet_processes(lab: &Lab) -> Vec<(String, i32)> {
    let mut out = vec![("daemon".to_owned(), lab.daemon_pid())];
    let run = lab.dir().join("run");
    for owner in std::fs::read_dir(&run).into_iter().flatten().flatten() {
        for c in std::fs::read_dir(owner.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let pid = std::fs::read_to_string(c.path().join("pid")).ok();
            if let Some(pid) = pid.and_then(|p| p.split_whitespace().next()?.parse().ok()) {
                let name = format!(
                    "{}/{}",
                    owner.file_name().to_string_lossy(),
                    c.file_name().to_string_lossy()
                );
                out.push((name, pid));
            }
        }
    }
    out
}

fn rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Like [`eventually`], but hands back the last evidence instead of panicking.
fn poll<T, E>(limit: Duration, mut f: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let deadline = Instant::now() + limit;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
