//! Crash safety: the binary aborts at each `PODNET_IPAM_CRASH_AT` point, and whatever comes
//! next — the same ADD retried, a DEL, a GC — leaves no duplicate and no leak.

use std::collections::HashMap;

use podnet_cni_ipam::CrashPoint;
use serde_json::json;

use crate::support::{Net, Reply};

const TEMP_PREFIX: &str = ".podnet-tmp.";

fn net() -> Net {
    Net::ranges(json!([[{"subnet": "10.60.0.0/29"}], [{"subnet": "fd60::/125"}]]))
}

fn add_points() -> impl Iterator<Item = CrashPoint> {
    CrashPoint::ALL
        .into_iter()
        .filter(|p| *p != CrashPoint::AfterFirstRelease)
}

fn crash(net: &Net, verb: &str, id: &str, point: CrashPoint, conf: &serde_json::Value) -> Reply {
    let r = net.call_with(
        verb,
        id,
        if id.is_empty() { "" } else { "eth0" },
        conf,
        &[("PODNET_IPAM_CRASH_AT", point.as_str())],
    );
    assert!(r.aborted(), "{verb} did not crash at {point}: {r:?}");
    r
}

/// Crashes `victim`'s ADD at `point` next to a live attachment `other`, and checks the
/// disk shows what the point's documentation says.
fn crashed_add(point: CrashPoint) -> Net {
    let net = net();
    net.add("other");
    crash(&net, "ADD", "victim", point, &net.conf);
    let temps = net
        .files()
        .keys()
        .filter(|n| n.starts_with(TEMP_PREFIX))
        .count();
    let held = net.held_by("victim").len();
    let expected = match point {
        CrashPoint::AfterLock => (0, 0),
        CrashPoint::AfterTempWrite => (1, 0),
        CrashPoint::AfterLink => (1, 1),
        CrashPoint::BeforeLastReserved => (0, 1),
        CrashPoint::AfterLastReservedTemp => (1, 1),
        CrashPoint::BeforeUnlock => (0, 2),
        CrashPoint::AfterFirstRelease => unreachable!(),
    };
    assert_eq!(
        (temps, held),
        expected,
        "{point}: (temp files, victim's reservations) in {:?}",
        net.files()
    );
    net
}

/// No temp file is left, and no attachment holds two addresses of one family.
#[track_caller]
fn assert_consistent(net: &Net, point: CrashPoint) {
    let files = net.files();
    assert!(
        files.keys().all(|n| !n.starts_with(TEMP_PREFIX)),
        "{point}: temp file left in {files:?}"
    );
    let mut per_family: HashMap<(String, bool), usize> = HashMap::new();
    for (ip, owner) in net.reservations() {
        *per_family.entry((owner, ip.contains(':'))).or_default() += 1;
    }
    assert!(
        per_family.values().all(|n| *n == 1),
        "{point}: an attachment holds two addresses of one family: {files:?}"
    );
}

#[test]
fn crash_during_add_then_retried_add_takes_no_second_address() {
    for point in add_points() {
        let net = crashed_add(point);
        let got = net.add("victim");
        assert_consistent(&net, point);
        let mut held: Vec<String> = net.held_by("victim");
        let mut returned: Vec<String> = got
            .iter()
            .map(|a| a.split('/').next().unwrap().to_owned())
            .collect();
        held.sort();
        returned.sort();
        assert_eq!(
            returned, held,
            "{point}: the retry returns exactly what is reserved"
        );
        assert_eq!(held.len(), 2, "{point}");
        net.add("third");
        assert_consistent(&net, point);
        for id in ["victim", "other", "third"] {
            net.del(id);
        }
        assert!(
            net.reservations().is_empty(),
            "{point}: leaked {:?}",
            net.files()
        );
    }
}

#[test]
fn crash_during_add_then_del_leaves_nothing_behind() {
    for point in add_points() {
        let net = crashed_add(point);
        net.del("victim");
        assert_consistent(&net, point);
        assert!(
            net.held_by("victim").is_empty(),
            "{point}: {:?}",
            net.files()
        );
        assert_eq!(net.held_by("other").len(), 2, "{point}");
    }
}

#[test]
fn crash_during_add_then_gc_leaves_nothing_behind() {
    for point in add_points() {
        let net = crashed_add(point);
        net.gc(&[("other", "eth0")]).ok();
        assert_consistent(&net, point);
        assert!(
            net.held_by("victim").is_empty(),
            "{point}: {:?}",
            net.files()
        );
        assert_eq!(net.held_by("other").len(), 2, "{point}");
    }
}

#[test]
fn crash_during_del_or_gc_then_retry_frees_the_rest() {
    let point = CrashPoint::AfterFirstRelease;
    let net = net();
    net.add("victim");
    crash(&net, "DEL", "victim", point, &net.conf);
    assert_eq!(
        net.held_by("victim").len(),
        1,
        "one of two released before the crash"
    );
    net.del("victim");
    assert!(net.held_by("victim").is_empty());

    net.add("victim");
    let mut conf = net.conf.clone();
    conf["cni.dev/valid-attachments"] = json!([]);
    crash(&net, "GC", "", point, &conf);
    assert_eq!(net.held_by("victim").len(), 1);
    net.gc(&[]).ok();
    assert!(net.reservations().is_empty());
}
