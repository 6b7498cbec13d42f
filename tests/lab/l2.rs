//! Helpers of the L2 LoadBalancer suites (and the gateway's drills): ARP from the fabric, the
//! per-address Lease, the external host's requests, processes in the lab's namespaces.

#![allow(dead_code)]

use std::process::{Command, Output};

use super::support::{Lab, eventually};

/// The first address of the lab's pool.
pub const VIP: &str = "172.18.255.200";

pub const WEB: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
";

/// A command inside one of the lab's namespaces (`fabric`, a node's name, `external`).
pub fn in_lab_ns(lab: &Lab, ns: &str, argv: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", &format!("podnet.{}.{ns}", lab.name)])
        .args(argv)
        .output()
        .unwrap()
}

/// The MACs that answered one ARP request for `ip`, sent from the fabric's bridge (where
/// the router of a real node network would ask).
pub fn arp_answers(lab: &Lab, ip: &str) -> Vec<String> {
    let out = in_lab_ns(
        lab,
        "fabric",
        &["arping", "-c", "1", "-w", "1", "-I", "br0", ip],
    );
    macs_in(&String::from_utf8_lossy(&out.stdout))
}

/// The `[MAC]`s of arping's "Unicast reply from IP [MAC]" lines.
pub fn macs_in(arping: &str) -> Vec<String> {
    arping
        .split_whitespace()
        .filter(|w| w.starts_with('[') && w.ends_with(']'))
        .map(|w| w.trim_matches(['[', ']']).to_lowercase())
        .collect()
}

/// The node holding the address's Lease.
pub fn holder(lab: &Lab, ip: &str) -> Option<String> {
    let name = format!("podnet-l2-{}", ip.replace('.', "-"));
    let out = lab.kubectl(&[
        "get",
        "lease",
        "-n",
        "kube-system",
        &name,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    let holder = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !holder.is_empty()).then_some(holder)
}

/// The MAC of `node`'s uplink.
pub fn node_mac(lab: &Lab, node: &str) -> String {
    let out = in_lab_ns(lab, node, &["ip", "-o", "link", "show", "eth0"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "link/ether");
    words.next().expect("eth0's MAC").to_lowercase()
}

/// GET from the external host; the body when it answered.
pub fn external_get(lab: &Lab, url: &str) -> Option<String> {
    let out = lab.podnet(&["external-exec", "--", "curl", "-sS", "-m", "2", url]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn external_ip(lab: &Lab, svc: &str) -> String {
    eventually(60, &format!("an EXTERNAL-IP for {svc}"), || {
        let out = lab.kubectl(&[
            "get",
            "svc",
            svc,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        let ip = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !ip.is_empty()).then_some(ip)
    })
}

/// The pid of `node`'s agent, as the lab's supervisor wrote it.
pub fn agent_pid(lab: &Lab, node: &str) -> i32 {
    let path = lab.dir().join("run").join(node).join("agent").join("pid");
    let text = std::fs::read_to_string(&path).unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// A process started inside a lab namespace, ended (by its pid) and read when finished.
pub struct Background(std::process::Child);

impl Background {
    pub fn start(lab: &Lab, ns: &str, argv: &[&str]) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("podnet.{}.{ns}", lab.name)])
            .args(argv)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Background(child)
    }

    /// SIGINT (a tool that reports when interrupted: wrk), then what it printed.
    pub fn interrupt(self) -> String {
        self.signalled("-INT")
    }

    /// SIGTERM, then what it printed.
    pub fn finish(self) -> String {
        self.signalled("-TERM")
    }

    fn signalled(mut self, signal: &str) -> String {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args([signal, &pid]).status();
        let child = std::mem::replace(&mut self.0, Command::new("true").spawn().unwrap());
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The external host GETting `url` every 50 ms (0.5 s timeout), one line per request:
/// `<unix ms> <HTTP status, 000 for none>`.
pub fn probe(lab: &Lab, url: &str) -> Background {
    let script = format!(
        "while :; do t=$(date +%s%3N); \
         c=$(curl -s -o /dev/null -m 0.5 -w '%{{http_code}}' {url}); \
         echo \"$t $c\"; sleep 0.05; done"
    );
    Background::start(lab, "external", &["sh", "-c", &script])
}

/// From a probe's output: the time from the first failed request to the first successful
/// one after it (ms); None if none failed. Later failures are not the fail-over's (with
/// `externalTrafficPolicy: Cluster` a request may still be sent to an endpoint on a node
/// that left).
pub fn outage_ms(probe: &str) -> Option<u64> {
    let mut first_failure: Option<u64> = None;
    for line in probe.lines() {
        let mut parts = line.split_whitespace();
        let (Some(t), Some(code)) = (parts.next(), parts.next()) else {
            continue;
        };
        let Ok(t) = t.parse::<u64>() else { continue };
        match (code == "200", first_failure) {
            (false, None) => first_failure = Some(t),
            (true, Some(f)) => return Some(t - f),
            _ => {}
        }
    }
    None
}

/// ARP as captured on the fabric (`tcpdump -l -n -e arp`): per request for `ip`, the MACs
/// that replied before the next request.
pub fn replies_per_request(capture: &str, ip: &str) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let reply = format!("Reply {ip} is-at ");
    for line in capture.lines() {
        if line.contains(&format!("who-has {ip} ")) {
            groups.push(Vec::new());
        } else if let Some((_, rest)) = line.split_once(&reply) {
            let mac = rest
                .split([',', ' '])
                .next()
                .unwrap_or_default()
                .to_lowercase();
            if let Some(g) = groups.last_mut() {
                g.push(mac);
            }
        }
    }
    groups
}
