//! `podnet workload netexec` against agnhost's HTTP and UDP API: the real binary in a test
//! namespace, clients inside it (curl, UDP sockets), and /dial between two namespaces.

#[path = "workload/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{Workload, add_addresses, curl, udp_exchange, veth_pair, wait_tcp};
use podnet_test_util::Netns;
use serde_json::{Value, json};

const SERVER: &str = "10.50.0.1";
const CLIENT: &str = "10.50.0.2";

fn netexec(tag: &str, hostname: &str, flags: &[&str]) -> (Netns, Workload) {
    let ns = Netns::new(tag);
    add_addresses(&ns, &["10.50.0.1/24", "10.50.0.2/24"]);
    let mut args = vec!["netexec"];
    args.extend_from_slice(flags);
    let mut w = Workload::start(&ns, hostname, &args);
    wait_tcp(&ns, "10.50.0.1:8080", &mut w);
    (ns, w)
}

fn get(ns: &Netns, path: &str) -> harness::Reply {
    curl(
        ns,
        &["--interface", CLIENT],
        &format!("http://{SERVER}:8080{path}"),
    )
}

#[test]
fn kernel_netexec_http_endpoints_answer_as_agnhost() {
    let (ns, _w) = netexec(
        "nx-http",
        "pod-a",
        &["--http-port=8080", "--udp-port", "8081"],
    );

    let root = get(&ns, "/");
    assert_eq!(root.status, 200);
    assert!(root.body.starts_with("NOW: 20"), "{}", root.body);
    assert!(get(&ns, "/anything/else").body.starts_with("NOW: "));
    assert_eq!(get(&ns, "/hostname").body, "pod-a");
    assert_eq!(get(&ns, "/hostName").body, "pod-a");

    let ip = get(&ns, "/clientip").body;
    assert!(
        ip.starts_with(&format!("{CLIENT}:")),
        "client ip:port, got {ip:?}"
    );
    assert!(ip[CLIENT.len() + 1..].parse::<u16>().is_ok(), "{ip}");

    let echo = get(&ns, "/echo?msg=hello+world");
    assert_eq!((echo.status, echo.body.as_str()), (200, "hello world"));
    let echo = get(&ns, "/echo?msg=gone&code=404");
    assert_eq!((echo.status, echo.body.as_str()), (404, "gone"));

    let h = get(&ns, "/healthz");
    assert_eq!((h.status, h.body.as_str()), (200, ""));
    let r = get(&ns, "/readyz");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    let header = curl(
        &ns,
        &["-H", "X-Test-Header: v1"],
        &format!("http://{SERVER}:8080/header?key=x-test-header"),
    );
    assert_eq!(header.body, "v1");
    let all: Value = serde_json::from_str(
        &curl(
            &ns,
            &["-H", "X-Test-Header: v1"],
            &format!("http://{SERVER}:8080/header"),
        )
        .body,
    )
    .unwrap();
    assert_eq!(all["X-Test-Header"], json!(["v1"]));
    assert!(
        all.get("Host").is_none(),
        "Go keeps Host out of the header map: {all}"
    );

    let redirect = get(&ns, "/redirect?location=/echo%3Fmsg%3Dr&code=307");
    assert_eq!(redirect.status, 307);
    assert!(
        redirect
            .headers
            .to_lowercase()
            .contains("location: /echo?msg=r"),
        "{}",
        redirect.headers
    );
    let unclean = get(&ns, "//hostname");
    assert_eq!(unclean.status, 301, "the mux redirects unclean paths");
    assert!(
        unclean
            .headers
            .to_lowercase()
            .contains("location: /hostname"),
        "{}",
        unclean.headers
    );

    let shell: Value =
        serde_json::from_str(&get(&ns, "/shell?cmd=echo+hi;+hostname").body).unwrap();
    assert_eq!(shell, json!({"output": "hi\npod-a\n"}));
    let shell: Value =
        serde_json::from_str(&get(&ns, "/shell?shellCommand=echo+oops+%3E%262;+exit+3").body)
            .unwrap();
    assert_eq!(shell, json!({"output": "oops\n", "error": "exit status 3"}));

    let bad = get(&ns, "/dial?host=10.50.0.1&port=8080");
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "request parameter not specified. <nil>\n")
    );
    let bad = get(
        &ns,
        "/dial?request=hostname&host=10.50.0.1&port=8080&protocol=icmp",
    );
    assert_eq!(
        (bad.status, bad.body.as_str()),
        (400, "unsupported protocol. icmp\n")
    );
    let bad = get(
        &ns,
        "/dial?request=hostname&host=10.50.0.1&port=8080&tries=x",
    );
    assert_eq!(bad.status, 400);

    assert_eq!(get(&ns, "/upload").status, 501);
}

#[test]
fn kernel_netexec_udp_commands() {
    let (ns, _w) = netexec("nx-udp", "pod-u", &[]);
    let to = format!("{SERVER}:8081");
    let wait = Duration::from_secs(2);
    let ask = |payload: &str| udp_exchange(&ns, CLIENT, &to, payload, wait);

    assert_eq!(ask("hostname").0.as_deref(), Some("pod-u"));
    assert_eq!(
        ask("echo Hello There\n").0.as_deref(),
        Some("hello there"),
        "upstream lowercases"
    );
    let (answer, local) = ask("clientip");
    assert_eq!(answer, Some(local.to_string()));
    let (answer, _) = udp_exchange(&ns, CLIENT, &to, "bogus", Duration::from_millis(300));
    assert_eq!(answer, None, "unknown commands get no answer");
}

#[test]
fn kernel_netexec_dial_reaches_another_netexec_over_http_and_udp() {
    let (a, b) = veth_pair("nx-dial");
    let mut wa = Workload::start(&a, "pod-a", &["netexec"]);
    let mut wb = Workload::start(
        &b,
        "pod-b",
        &["netexec", "--http-port=8080", "--udp-port=8081"],
    );
    wait_tcp(&a, "10.60.0.1:8080", &mut wa);
    wait_tcp(&b, "10.60.0.2:8080", &mut wb);
    let dial = |query: &str| {
        let reply = curl(&a, &[], &format!("http://127.0.0.1:8080/dial?{query}"));
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        serde_json::from_str::<Value>(&reply.body).unwrap()
    };

    assert_eq!(
        dial("request=hostname&protocol=http&host=10.60.0.2&port=8080&tries=2"),
        json!({"responses": ["pod-b", "pod-b"]})
    );
    assert_eq!(
        dial("request=hostname&protocol=udp&host=10.60.0.2&port=8081&tries=1"),
        json!({"responses": ["pod-b"]})
    );
    // The server sees the dialling pod's own address.
    let ip = dial("request=clientip&protocol=http&host=10.60.0.2&port=8080");
    assert!(
        ip["responses"][0]
            .as_str()
            .unwrap()
            .starts_with("10.60.0.1:"),
        "{ip}"
    );
    let ip = dial("request=clientip&protocol=udp&host=10.60.0.2&port=8081");
    assert!(
        ip["responses"][0]
            .as_str()
            .unwrap()
            .starts_with("10.60.0.1:"),
        "{ip}"
    );
    assert_eq!(
        dial("request=echo%3Fmsg%3Dvia-dial&host=10.60.0.2&port=8080"),
        json!({"responses": ["via-dial"]}),
        "protocol defaults to http"
    );

    // Failures are reported as upstream words them, still with 200.
    assert_eq!(
        dial("request=hostname&protocol=http&host=10.60.0.2&port=9999"),
        json!({"errors": ["Get \"http://10.60.0.2:9999/hostname\": dial tcp 10.60.0.2:9999: connect: connection refused"]})
    );
    let udp = dial("request=hostname&protocol=udp&host=10.60.0.2&port=9999");
    let err = udp["errors"][0].as_str().unwrap();
    assert!(
        err.starts_with("reading from udp connection failed. err:'read udp 10.60.0.1:")
            && err.ends_with("->10.60.0.2:9999: read: connection refused'"),
        "{err}"
    );
    assert!(udp.get("responses").is_none(), "{udp}");
}

#[test]
fn kernel_netexec_exit_ends_the_process_with_the_code() {
    let (ns, mut w) = netexec("nx-exit", "pod-e", &[]);
    let reply = get(&ns, "/exit?code=7");
    assert_eq!(reply.status, 0, "immediate exit answers nothing");
    let status = w
        .wait_for_exit(Duration::from_secs(5))
        .expect("netexec exits");
    assert_eq!(status.code(), Some(7));

    // With a timeout the exit is graceful: the request is answered first.
    let (ns, mut w) = netexec("nx-exit-g", "pod-e", &[]);
    let reply = get(&ns, "/exit?code=3&timeout=2s&wait=100ms");
    assert_eq!(reply.status, 200);
    assert_eq!(
        w.wait_for_exit(Duration::from_secs(5)).unwrap().code(),
        Some(3)
    );

    let (ns, mut w) = netexec("nx-exit-b", "pod-e", &[]);
    let bad = get(&ns, "/exit?code=abc");
    assert_eq!(
        bad.body,
        "argument 'code' must be an integer [0-127] or empty, got \"abc\"\n"
    );
    assert!(w.is_running(), "a refused /exit does not exit");
    get(&ns, "/shutdown");
    assert_eq!(
        w.wait_for_exit(Duration::from_secs(5)).unwrap().code(),
        Some(0)
    );
}

#[test]
fn kernel_netexec_sigterm_fails_readyz_then_exits_0_after_delay() {
    let (ns, mut w) = netexec("nx-term", "pod-t", &["--delay-shutdown=1"]);
    let start = Instant::now();
    w.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    let r = get(&ns, "/readyz");
    assert_eq!((r.status, r.body.as_str()), (503, "shutting down"));
    assert_eq!(
        get(&ns, "/healthz").status,
        200,
        "still healthy while draining"
    );
    let status = w
        .wait_for_exit(Duration::from_secs(5))
        .expect("exits after the delay");
    assert_eq!(status.code(), Some(0));
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn kernel_netexec_without_udp_is_not_healthy_as_upstream() {
    let (ns, _w) = netexec("nx-noudp", "pod-n", &["--udp-port=-1"]);
    assert_eq!(get(&ns, "/healthz").status, 412);
    assert_eq!(get(&ns, "/readyz").status, 412);
    assert_eq!(get(&ns, "/hostname").body, "pod-n");
}

#[test]
fn kernel_netexec_http_override_serves_one_path() {
    let (ns, _w) = netexec(
        "nx-over",
        "pod-o",
        &["--http-override=/echo?msg=overridden"],
    );
    assert_eq!(get(&ns, "/hostname").body, "overridden");
    assert_eq!(get(&ns, "/").body, "overridden");
}

#[test]
fn kernel_netexec_refuses_sctp_and_tls_clearly() {
    let ns = Netns::new("nx-sctp");
    let (code, _, err, _) = harness::run_workload(&ns, &["netexec", "--sctp-port=8082"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--sctp-port") && err.contains("SCTP"), "{err}");
    let (code, _, err, _) = harness::run_workload(&ns, &["netexec", "--tls-cert-file=/c.crt"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--tls-cert-file"), "{err}");
}

#[test]
fn kernel_ports_serves_netexec_on_each_declared_port() {
    let ns = Netns::new("nx-ports");
    add_addresses(&ns, &["10.50.0.1/24", "10.50.0.2/24"]);
    let mut w = Workload::start(&ns, "nginx-1", &["ports", "80/tcp", "8443/tcp", "5353/udp"]);
    wait_tcp(&ns, "10.50.0.1:80", &mut w);
    wait_tcp(&ns, "10.50.0.1:8443", &mut w);
    for port in [80, 8443] {
        let r = curl(&ns, &[], &format!("http://{SERVER}:{port}/hostname"));
        assert_eq!(r.body, "nginx-1");
        assert_eq!(
            curl(&ns, &[], &format!("http://{SERVER}:{port}/healthz")).status,
            200
        );
    }
    let (answer, _) = udp_exchange(
        &ns,
        CLIENT,
        "10.50.0.1:5353",
        "hostname",
        Duration::from_secs(2),
    );
    assert_eq!(answer.as_deref(), Some("nginx-1"));
}
