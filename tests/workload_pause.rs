//! `podnet workload pause`: waits; SIGTERM exits 2 and SIGINT exits 1, as agnhost's pause.

#[path = "workload/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::Workload;
use podnet_test_util::Netns;

fn paused(tag: &str, args: &[&str]) -> (Netns, Workload) {
    let ns = Netns::new(tag);
    let w = Workload::start(&ns, "pauser", args);
    let start = Instant::now();
    while !w.stdout().contains("Paused") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never paused: {}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (ns, w)
}

#[test]
fn kernel_pause_exits_2_on_sigterm() {
    let (_ns, mut w) = paused("pause-term", &["pause"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(w.is_running(), "pause waits");
    w.signal("TERM");
    let status = w
        .wait_for_exit(Duration::from_secs(30))
        .expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(2));
    assert_eq!(w.stdout(), "Paused\nexiting 2\n");
}

#[test]
fn kernel_pause_exits_1_on_sigint() {
    let (_ns, mut w) = paused("pause-int", &["pause"]);
    w.signal("INT");
    assert_eq!(
        w.wait_for_exit(Duration::from_secs(5)).unwrap().code(),
        Some(1)
    );
}

#[test]
fn kernel_pause_delay_shutdown_waits_before_exiting() {
    let (_ns, mut w) = paused("pause-delay", &["pause", "--delay-shutdown=1"]);
    let start = Instant::now();
    w.signal("TERM");
    assert_eq!(
        w.wait_for_exit(Duration::from_secs(5)).unwrap().code(),
        Some(2)
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}
