//! The soak, long: a three-node lab under continuous churn for PODNET_SOAK_SECS (default one
//! hour), with the anchor Service probed from every node and the invariants checked after every
//! change (see `tests/lab/soak.rs`); prints the figures the README quotes: rounds, changes,
//! probes sent and failed, invariant checks and violations, and each podnet process's RSS
//! over time (first, peak, last).
//!
//!     unshare --net --mount --propagation private -- bash -c 'ip link set lo up; \
//!       mkdir -p /run/netns; mount -t tmpfs tmpfs /run/netns; cargo bench --bench soak'

#[path = "../tests/lab/soak.rs"]
mod soak;
#[path = "../tests/lab/support.rs"]
mod support;

use std::time::Duration;

use support::{Lab, manifest};

fn main() {
    let secs: u64 = std::env::var("PODNET_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3600);
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "kind.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
         - role: worker\n- role: worker\n",
    );
    let lab = Lab::up("soak-bench", &["--config", config.to_str().unwrap()]);
    let r = soak::run(&lab, Duration::from_secs(secs), 0x50a6);

    println!(
        "soak: {secs} s, {} rounds, changes {:?}",
        r.rounds, r.changes
    );
    println!(
        "probes to the anchor Service: {} sent, {} failed",
        r.probes_sent, r.probes_failed
    );
    println!(
        "invariant checks: {} ({} requests), {} violations",
        r.checks,
        r.check_requests,
        r.violations.len()
    );
    for v in &r.violations {
        println!("  {v}");
    }
    println!("\n| process | RSS first | RSS peak | RSS last (MiB) |\n|---|---|---|---|");
    for (name, samples) in &r.rss {
        let mib = |kib: u64| kib as f64 / 1024.0;
        let first = samples.first().map_or(0, |s| s.1);
        let last = samples.last().map_or(0, |s| s.1);
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            mib(first),
            mib(peak),
            mib(last)
        );
    }
}
