//! `podnet dns` over real sockets on 127.0.0.1: cluster names over UDP and TCP, EDNS and
//! truncation, forwarding through the cache to a fake upstream (positive, negative, TCP
//! fallback, prefetch), the ndots search-list storm answered without the upstream, a
//! Corefile change applied while serving, the HTTP endpoints, and `dig` as a client.

mod dns {
    pub mod support;
}

use std::time::Duration;

use dns::support::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

async fn server_with_objects(upstream: &Upstream, extra_cache: &str) -> TestDns {
    let dns = TestDns::start(&corefile(upstream.addr, "", extra_cache)).await;
    dns.shared.update_catalog(|c| {
        c.upsert_namespace("default");
        c.upsert_namespace("ns1");
        c.upsert_service(cluster_ip(
            "default",
            "kubernetes",
            "10.96.0.1",
            &[("https", "tcp", 443)],
        ));
        c.upsert_service(cluster_ip(
            "ns1",
            "web",
            "10.96.0.20",
            &[("http", "tcp", 80)],
        ));
        c.upsert_service(headless("ns1", "db"));
        c.upsert_slice(slice(
            "ns1",
            "db",
            &[("pg", "tcp", 5432)],
            &[("10.244.1.5", Some("db-0")), ("10.244.2.6", Some("db-1"))],
        ));
        c.upsert_service(external("ns1", "ext", "www.example.com"));
    });
    dns
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_names_over_udp_and_tcp() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let m = udp(dns.addr, "web.ns1.svc.cluster.local.", RecordType::A, None).await;
    assert_eq!(data(&m), ["10.96.0.20"]);
    assert!(m.metadata.authoritative);
    let m = tcp(
        dns.addr,
        "_pg._tcp.db.ns1.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(m.answers.len(), 2);
    assert_eq!(m.additionals.len(), 2);
    let m = udp(
        dns.addr,
        "20.0.96.10.in-addr.arpa.",
        RecordType::PTR,
        Some(1232),
    )
    .await;
    assert_eq!(data(&m), ["web.ns1.svc.cluster.local."]);
    assert!(m.edns.is_some(), "EDNS answered with EDNS");
    let m = udp(
        dns.addr,
        "db-1.db.ns1.svc.cluster.local.",
        RecordType::A,
        None,
    )
    .await;
    assert_eq!(data(&m), ["10.244.2.6"]);
    assert_eq!(up.total(), 0, "cluster names never reach the upstream");
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let eps: Vec<String> = (0..100).map(|i| format!("10.244.9.{i}")).collect();
    let eps: Vec<(&str, Option<&str>)> = eps.iter().map(|e| (e.as_str(), None)).collect();
    dns.shared.update_catalog(|c| {
        c.upsert_service(headless("ns1", "many"));
        c.upsert_slice(slice("ns1", "many", &[], &eps));
    });
    let name = "many.ns1.svc.cluster.local.";
    let m = udp(dns.addr, name, RecordType::A, None).await;
    assert!(m.metadata.truncation && m.answers.is_empty());
    let m = udp(dns.addr, name, RecordType::A, Some(4096)).await;
    assert!(
        m.metadata.truncation,
        "100 records exceed the 1232 bytes advertised"
    );
    let m = tcp(dns.addr, name, RecordType::A).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 100);
    // An upstream answer bigger than a plain-DNS client takes: TC for it, whole with EDNS.
    let m = udp(dns.addr, "big.example.com.", RecordType::A, None).await;
    assert!(m.metadata.truncation);
    let m = udp(dns.addr, "big.example.com.", RecordType::A, Some(1232)).await;
    assert_eq!(m.answers.len(), 40);
    assert_eq!(
        up.count("big.example.com."),
        1,
        "the second ask came from the cache"
    );
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_answers_are_cached_positive_and_negative() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let m = udp(dns.addr, "www.example.com.", RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.1"]);
    assert!(m.answers[0].ttl <= 30, "capped by `cache 30`");
    let m = udp(dns.addr, "WWW.example.com.", RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.1"]);
    assert_eq!(up.count("www.example.com."), 1);
    for _ in 0..3 {
        let m = udp(dns.addr, "nx.example.com.", RecordType::A, None).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(matches!(m.authorities[0].data, RData::SOA(_)));
        assert!(
            m.authorities[0].ttl <= 10,
            "negative TTL is min(SOA TTL, minimum)"
        );
    }
    assert_eq!(up.count("nx.example.com."), 1);
    let (_, metrics) = dns.get("/metrics").await;
    assert!(
        metrics.contains("coredns_cache_hits_total{server=\"dns://:0\",type=\"success\""),
        "{metrics}"
    );
    assert!(metric(&metrics, "coredns_cache_hits_total", "type=\"denial\"") >= 2.0);
    assert!(metric(&metrics, "coredns_cache_misses_total", "") >= 2.0);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndots_search_list_storm_never_reaches_the_upstream() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    // What a pod in ns1 with ndots:5 asks before the real name.
    for suffix in [
        "ns1.svc.cluster.local.",
        "svc.cluster.local.",
        "cluster.local.",
    ] {
        for qtype in [RecordType::A, RecordType::AAAA] {
            let m = udp(dns.addr, &format!("api.example.com.{suffix}"), qtype, None).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{suffix}");
            assert!(matches!(m.authorities[0].data, RData::SOA(_)));
        }
    }
    assert_eq!(up.total(), 0);
    let m = udp(dns.addr, "api.example.com.", RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.1"]);
    assert_eq!(up.total(), 1);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_truncation_falls_back_to_tcp() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let m = udp(dns.addr, "tc.example.com.", RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.1"]);
    assert_eq!(
        up.count("tc.example.com."),
        2,
        "once over UDP, once over TCP"
    );
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_upstream_is_servfail_and_the_server_keeps_answering() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let cf = corefile(closed, "", "");
    let mut dns = TestDns::start(&cf).await;
    dns.shared.update_catalog(|c| {
        c.upsert_namespace("default");
        c.upsert_service(cluster_ip("default", "a", "10.96.0.5", &[]));
    });
    let m = udp(dns.addr, "example.org.", RecordType::A, None).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = udp(
        dns.addr,
        "a.default.svc.cluster.local.",
        RecordType::A,
        None,
    )
    .await;
    assert_eq!(data(&m), ["10.96.0.5"]);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popular_entries_are_prefetched_before_they_expire() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "success 100 30 1\n        prefetch 2 1m 50%").await;
    let name = "short.example.com.";
    for _ in 0..3 {
        udp(dns.addr, name, RecordType::A, None).await;
    }
    assert_eq!(up.count(name), 1);
    // TTL 2: after a second, half of it is left and the next hit refreshes the entry.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let m = udp(dns.addr, name, RecordType::A, None).await;
    assert_eq!(data(&m), ["192.0.2.2"], "answered from the cache");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while up.count(name) < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(up.count(name), 2, "refreshed in the background");
    let (_, metrics) = dns.get("/metrics").await;
    assert_eq!(metric(&metrics, "coredns_cache_prefetch_total", ""), 1.0);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_name_alias_is_followed_upstream() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let m = udp(dns.addr, "ext.ns1.svc.cluster.local.", RecordType::A, None).await;
    assert_eq!(data(&m), ["www.example.com.", "192.0.2.1"]);
    assert_eq!(m.answers[1].name.to_string(), "www.example.com.");
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corefile_change_applies_without_restart() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let name = "web.ns1.svc.cluster.local.";
    assert_eq!(
        udp(dns.addr, name, RecordType::A, None).await.answers[0].ttl,
        30
    );
    let changed = corefile(up.addr, "", "").replace("ttl 30", "ttl 7");
    dns.reload.send(changed).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let ttl = udp(dns.addr, name, RecordType::A, None).await.answers[0].ttl;
        if ttl == 7 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "TTL still {ttl}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A broken Corefile is refused; the running one stays and the failure is counted.
    dns.reload
        .send("this is { not a corefile".into())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        udp(dns.addr, name, RecordType::A, None).await.answers[0].ttl,
        7
    );
    let (_, metrics) = dns.get("/metrics").await;
    assert_eq!(metric(&metrics, "coredns_reload_failed_total", ""), 1.0);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_metrics_endpoints() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    assert_eq!(dns.get("/health").await, (200, "OK".into()));
    assert_eq!(dns.get("/ready").await, (200, "OK".into()));
    dns.shared.set_pending("kubernetes (services)", true);
    let (code, body) = dns.get("/ready").await;
    assert_eq!((code, body.as_str()), (503, "kubernetes (services)"));
    dns.shared.set_pending("kubernetes (services)", false);
    udp(dns.addr, "web.ns1.svc.cluster.local.", RecordType::A, None).await;
    udp(dns.addr, "nope.ns1.svc.cluster.local.", RecordType::A, None).await;
    udp(dns.addr, "www.example.com.", RecordType::A, None).await;
    let (code, m) = dns.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metric(
            &m,
            "coredns_dns_requests_total",
            "proto=\"udp\",family=\"1\",type=\"A\""
        ) >= 3.0,
        "{m}"
    );
    assert!(metric(&m, "coredns_dns_responses_total", "rcode=\"NXDOMAIN\"") >= 1.0);
    assert!(metric(&m, "coredns_dns_responses_total", "rcode=\"NOERROR\"") >= 2.0);
    assert!(
        m.contains("coredns_forward_request_duration_seconds_bucket{to=\""),
        "{m}"
    );
    assert!(
        m.contains("coredns_dns_request_duration_seconds_count"),
        "{m}"
    );
    assert_eq!(dns.get("/nope").await.0, 404);
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_formerr_notimp_badvers_and_silence_for_responses() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let mut q = query("web.ns1.svc.cluster.local.", RecordType::A, Some(1232));
    let n = q.len();
    q[n - 5] = 1; // EDNS version 1
    let r = udp_raw(dns.addr, q).await.unwrap();
    let m = hickory_proto::op::Message::from_vec(&r).unwrap();
    assert_eq!(
        m.edns.as_ref().map(|e| e.rcode_high()),
        Some(1),
        "BADVERS (16) = high bits 1"
    );
    let mut q = query("a.", RecordType::A, None);
    q[2] = 0x28; // opcode UPDATE
    let r = udp_raw(dns.addr, q).await.unwrap();
    assert_eq!(r[3] & 0x0F, 4, "NOTIMP");
    let mut q = query("a.", RecordType::A, None);
    q[5] = 0; // no question
    let r = udp_raw(dns.addr, q).await.unwrap();
    assert_eq!(r[3] & 0x0F, 1, "FORMERR");
    let mut q = query("a.", RecordType::A, None);
    q[2] |= 0x80; // a response: never answered
    assert!(udp_raw(dns.addr, q).await.is_none());
    dns.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_resolves_through_the_server() {
    let up = Upstream::start().await;
    let mut dns = server_with_objects(&up, "").await;
    let port = dns.addr.port().to_string();
    let dig = |args: Vec<String>| async move {
        let out = tokio::process::Command::new("dig")
            .args(&args)
            .output()
            .await
            .expect("dig (dnsutils) installed");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let base = |extra: &[&str]| {
        let mut v = vec![
            "@127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.clone(),
            "+short".to_owned(),
            "+tries=1".to_owned(),
            "+time=3".to_owned(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    assert_eq!(
        dig(base(&["web.ns1.svc.cluster.local"])).await.trim(),
        "10.96.0.20"
    );
    assert_eq!(
        dig(base(&["+tcp", "kubernetes.default.svc.cluster.local"]))
            .await
            .trim(),
        "10.96.0.1"
    );
    assert_eq!(
        dig(base(&[
            "SRV",
            "_https._tcp.kubernetes.default.svc.cluster.local"
        ]))
        .await
        .trim(),
        "0 100 443 kubernetes.default.svc.cluster.local."
    );
    assert_eq!(
        dig(base(&["-x", "10.244.1.5"])).await.trim(),
        "db-0.db.ns1.svc.cluster.local."
    );
    assert_eq!(dig(base(&["www.example.com"])).await.trim(), "192.0.2.1");
    let full = dig(vec![
        "@127.0.0.1".into(),
        "-p".into(),
        port.clone(),
        "nope.ns1.svc.cluster.local".into(),
    ])
    .await;
    assert!(
        full.contains("status: NXDOMAIN") && full.contains("SOA"),
        "{full}"
    );
    dns.stop().await;
}

/// The value of the first sample of `name` whose labels contain `labels`.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']) && l.contains(labels))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}
