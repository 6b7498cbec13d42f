//! `podnet workload connect`: agnhost's exit status (0, or 1) and first stderr word
//! (REFUSED, TIMEOUT, DNS, UNKNOWN) for each way a connection ends, in a test namespace.

#[path = "workload/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{Workload, add_addresses, run_workload, wait_tcp};
use podnet_test_util::Netns;

/// A namespace with a server on 10.52.0.1 (TCP 8080 / UDP 8081) and 10.52.0.3 silently
/// dropped by an nftables rule of the namespace's own.
fn setup(tag: &str) -> (Netns, Workload) {
    let ns = Netns::new(tag);
    add_addresses(&ns, &["10.52.0.1/24", "10.52.0.3/24"]);
    ns.exec(&[
        "nft",
        "add table inet pn_test; \
         add chain inet pn_test input { type filter hook input priority 0; }; \
         add rule inet pn_test input ip daddr 10.52.0.3 drop",
    ]);
    let mut w = Workload::start(&ns, "server", &["netexec"]);
    wait_tcp(&ns, "10.52.0.1:8080", &mut w);
    (ns, w)
}

#[test]
fn kernel_connect_tcp_exit_statuses() {
    let (ns, _w) = setup("cn-tcp");

    let (code, out, err, _) = run_workload(&ns, &["connect", "10.52.0.1:8080", "--timeout=1s"]);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(0), "", ""));

    let (code, _, err, _) = run_workload(&ns, &["connect", "10.52.0.1:9", "--timeout=1s"]);
    assert_eq!((code, err.as_str()), (Some(1), "REFUSED\n"));

    let (code, _, err, took) = run_workload(&ns, &["connect", "10.52.0.3:8080", "--timeout", "1s"]);
    assert_eq!((code, err.as_str()), (Some(1), "TIMEOUT\n"));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );

    let (code, _, err, _) = run_workload(&ns, &["connect", "no-port-here"]);
    assert_eq!(
        (code, err.as_str()),
        (
            Some(1),
            "UNKNOWN: address no-port-here: missing port in address\n"
        )
    );

    let (code, _, err, _) =
        run_workload(&ns, &["connect", "no-such-name.invalid:80", "--timeout=1s"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("DNS: "), "{err}");
}

#[test]
fn kernel_connect_udp_exit_statuses() {
    let (ns, _w) = setup("cn-udp");

    let (code, _, err, _) = run_workload(
        &ns,
        &[
            "connect",
            "10.52.0.1:8081",
            "--protocol=udp",
            "--timeout=1s",
        ],
    );
    assert_eq!((code, err.as_str()), (Some(0), ""));

    let (code, _, err, _) = run_workload(
        &ns,
        &["connect", "10.52.0.1:9", "--protocol=udp", "--timeout=1s"],
    );
    assert_eq!(code, Some(1));
    assert!(err.starts_with("REFUSED: "), "{err}");

    let (code, _, err, took) = run_workload(
        &ns,
        &[
            "connect",
            "10.52.0.3:8081",
            "--protocol=udp",
            "--timeout=1s",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(err.starts_with("TIMEOUT: "), "{err}");
    assert!(took >= Duration::from_secs(1), "{took:?}");
}
