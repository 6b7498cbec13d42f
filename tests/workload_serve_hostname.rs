//! `podnet workload serve-hostname` over HTTP, raw TCP and UDP, as agnhost's.

#[path = "workload/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Workload, add_addresses, curl, run_workload, tcp_read_all, udp_exchange, wait_tcp};
use podnet_test_util::Netns;

fn setup(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    add_addresses(&ns, &["10.51.0.1/24", "10.51.0.2/24"]);
    ns
}

#[test]
fn kernel_serve_hostname_http_on_9376_by_default() {
    let ns = setup("sh-http");
    let mut w = Workload::start(&ns, "backend-1", &["serve-hostname"]);
    wait_tcp(&ns, "10.51.0.1:9376", &mut w);
    let r = curl(&ns, &[], "http://10.51.0.1:9376/");
    assert_eq!((r.status, r.body.as_str()), (200, "backend-1"));
    assert_eq!(
        curl(&ns, &[], "http://10.51.0.1:9376/any/path").body,
        "backend-1"
    );
    assert!(
        !r.headers.to_lowercase().contains("connection: close"),
        "{}",
        r.headers
    );
}

#[test]
fn kernel_serve_hostname_close_closes_each_connection() {
    let ns = setup("sh-close");
    let mut w = Workload::start(
        &ns,
        "backend-2",
        &["serve-hostname", "--close", "--port=8000"],
    );
    wait_tcp(&ns, "10.51.0.1:8000", &mut w);
    let r = curl(&ns, &[], "http://10.51.0.1:8000/");
    assert_eq!(r.body, "backend-2");
    assert!(
        r.headers.to_lowercase().contains("connection: close"),
        "{}",
        r.headers
    );
}

#[test]
fn kernel_serve_hostname_raw_tcp_and_udp() {
    let ns = setup("sh-raw");
    let mut w = Workload::start(
        &ns,
        "backend-3",
        &[
            "serve-hostname",
            "--tcp",
            "--udp",
            "--http=false",
            "--port",
            "9000",
        ],
    );
    wait_tcp(&ns, "10.51.0.1:9000", &mut w);
    assert_eq!(tcp_read_all(&ns, "10.51.0.1:9000"), "backend-3");
    let (answer, _) = udp_exchange(
        &ns,
        "10.51.0.2",
        "10.51.0.1:9000",
        "anything at all, longer than 16 bytes",
        Duration::from_secs(2),
    );
    assert_eq!(answer.as_deref(), Some("backend-3"));
}

#[test]
fn kernel_serve_hostname_refuses_udp_with_http_as_upstream() {
    let ns = setup("sh-both");
    let (code, _, err, _) = run_workload(&ns, &["serve-hostname", "--udp"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("HTTP mode at the same time"), "{err}");
}

#[test]
fn kernel_serve_hostname_keeps_serving_after_sigterm() {
    let ns = setup("sh-term");
    let mut w = Workload::start(&ns, "backend-4", &["serve-hostname"]);
    wait_tcp(&ns, "10.51.0.1:9376", &mut w);
    w.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.is_running(), "upstream awaits pod deletion after SIGTERM");
    assert_eq!(curl(&ns, &[], "http://10.51.0.1:9376/").body, "backend-4");
    w.signal("INT");
    assert!(
        w.wait_for_exit(Duration::from_secs(5)).is_some(),
        "SIGINT ends it"
    );
}
