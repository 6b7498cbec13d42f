//! `kill -9` at random moments, not only at the named crash points: rounds of concurrent
//! ADDs and DELs of different pods (as several runtimes on one node would send), each
//! plugin process killed after a random delay or left to finish. A pod whose last call was
//! killed is in an unknown state, as it is for a kubelet. At the end a GC keeps exactly the
//! pods whose last acknowledged call was an ADD: each holds one address per range set (the
//! ones its ADD returned), nobody else holds any, no temp file is left, and no address is
//! held twice. `PODNET_CNI_FAULT_ROUNDS` runs it longer (the drill in the README).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Net, addresses};

const PODS: usize = 8;
const SIGKILL: i32 = 9;

/// xorshift64*: a fixed seed per run, printed, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Known {
    /// The last acknowledged call was an ADD that returned these addresses.
    Added(Vec<String>),
    Deleted,
    /// The last call was killed.
    Unknown,
}

fn rounds() -> usize {
    std::env::var("PODNET_CNI_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

#[test]
fn random_kill_9_of_concurrent_adds_and_dels_then_gc_leaves_exactly_the_live_pods() {
    // Small ranges (13 and 15 addresses for 8 pods): leaks would soon exhaust them.
    let net = Net::ranges(json!([[{"subnet": "10.61.0.0/28"}], [{"subnet": "fd61::/124"}]]));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let mut known: BTreeMap<usize, Known> = (0..PODS).map(|p| (p, Known::Deleted)).collect();
    let (mut killed, mut calls) = (0, 0);
    for _ in 0..rounds() {
        // Up to four pods at once, each with its own call (a runtime serialises one pod's).
        let mut pods: Vec<usize> = (0..PODS).collect();
        let chosen: Vec<usize> = (0..1 + rng.below(4))
            .map(|_| pods.remove(rng.below(pods.len() as u64) as usize))
            .collect();
        let running: Vec<(usize, bool, Child, Option<u64>)> = chosen
            .into_iter()
            .map(|pod| {
                let add = rng.below(2) == 0;
                let verb = if add { "ADD" } else { "DEL" };
                let child = net.spawn(verb, &format!("pod-{pod}"), "eth0", &net.conf, &[]);
                // Half are killed somewhere in their first 4 ms (a call takes about 1-3 ms).
                let kill_after = (rng.below(2) == 0).then(|| rng.below(4000));
                (pod, add, child, kill_after)
            })
            .collect();
        let start = Instant::now();
        for (pod, add, mut child, kill_after) in running {
            calls += 1;
            if let Some(micros) = kill_after {
                let at = start + Duration::from_micros(micros);
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                let _ = child.kill();
            }
            let out = child.wait_with_output().unwrap();
            known.insert(
                pod,
                if out.status.signal() == Some(SIGKILL) {
                    killed += 1;
                    Known::Unknown
                } else if !out.status.success() {
                    panic!(
                        "pod-{pod} {}: {}",
                        if add { "ADD" } else { "DEL" },
                        String::from_utf8_lossy(&out.stdout)
                    );
                } else if add {
                    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    Known::Added(addresses(&result))
                } else {
                    Known::Deleted
                },
            );
        }
        assert_no_double_holding(&net);
    }
    eprintln!("{calls} calls, {killed} killed by SIGKILL");
    assert!(
        killed > 0 && killed < calls,
        "both fates happened: {killed} of {calls}"
    );

    let live: Vec<String> = known
        .iter()
        .filter(|(_, k)| matches!(k, Known::Added(_)))
        .map(|(p, _)| format!("pod-{p}"))
        .collect();
    let valid: Vec<(&str, &str)> = live.iter().map(|p| (p.as_str(), "eth0")).collect();
    net.gc(&valid).ok();

    let files = net.files();
    assert!(
        files.keys().all(|n| !n.starts_with(".podnet-tmp.")),
        "temp files left: {files:?}"
    );
    let mut expected = BTreeSet::new();
    for (pod, k) in &known {
        if let Known::Added(addrs) = k {
            for a in addrs {
                expected.insert((
                    a.split('/').next().unwrap().to_owned(),
                    format!("pod-{pod}/eth0"),
                ));
            }
        }
    }
    let held: BTreeSet<(String, String)> = net.reservations().into_iter().collect();
    assert_eq!(
        held, expected,
        "after GC exactly the live pods hold exactly what their ADD returned"
    );
}

/// One owner, one address per family: a second one would be a leak the GC cannot see.
fn assert_no_double_holding(net: &Net) {
    let mut per_owner: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    for (ip, owner) in net.reservations() {
        let v4 = ip.parse::<std::net::IpAddr>().unwrap().is_ipv4();
        per_owner.entry((owner, v4)).or_default().push(ip);
    }
    for ((owner, _), ips) in per_owner {
        assert_eq!(ips.len(), 1, "{owner} holds {ips:?}");
    }
}
