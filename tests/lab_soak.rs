//! The soak, short: three minutes of churn on a three-node lab (Deployments and Services
//! created, scaled through zero and deleted) with the anchor Service probed from every node
//! the whole time and the invariants checked after every change (see `lab/soak.rs`). The
//! hour-long run with its figures is `benches/soak.rs`.

#[path = "lab/soak.rs"]
mod soak;
#[path = "lab/support.rs"]
mod support;

use std::time::Duration;

use support::{Lab, manifest};

#[test]
fn lab_soak_three_minutes_of_churn_lose_no_probe_and_break_no_invariant() {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "kind.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
         - role: worker\n- role: worker\n",
    );
    let lab = Lab::up("soak", &["--config", config.to_str().unwrap()]);
    let report = soak::run(&lab, Duration::from_secs(180), 0x50a6);
    eprintln!(
        "{} rounds, changes {:?}, {} probes, {} checks ({} requests)",
        report.rounds, report.changes, report.probes_sent, report.checks, report.check_requests
    );
    assert!(report.rounds > 0, "no round completed");
    assert!(report.probes_sent > 0, "the probers sent nothing");
    assert_eq!(
        report.probes_failed, 0,
        "probes to the anchor Service failed"
    );
    assert!(
        report.violations.is_empty(),
        "invariants broken:\n{}",
        report.violations.join("\n")
    );
}
