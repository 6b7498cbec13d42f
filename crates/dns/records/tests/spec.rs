//! The Kubernetes DNS-Based Service Discovery specification's own examples (section numbers
//! as in kubernetes/dns docs/specification.md), plus CoreDNS's answers where the
//! specification leaves room (NODATA for existing names, the ndots search-list misses).
//! Responses are decoded with hickory-proto, an independent parser.

use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use podnet_dns_records::{Catalog, Outcome, PodMode, ZoneConfig, answer, parse_query};
use podnet_k8s_model::{
    DnsEndpoint, DnsEndpointSlice, DnsPod, DnsPort, DnsService, DnsServiceKind,
};

fn port(name: &str, proto: &str, port: u16) -> DnsPort {
    DnsPort {
        name: name.into(),
        protocol: proto.into(),
        port,
    }
}

fn service(ns: &str, name: &str, kind: DnsServiceKind, ports: Vec<DnsPort>) -> DnsService {
    DnsService {
        namespace: ns.into(),
        name: name.into(),
        kind,
        ports,
        publish_not_ready: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn endpoint(addr: &str, hostname: Option<&str>, ready: bool) -> DnsEndpoint {
    DnsEndpoint {
        addresses: vec![ip(addr)],
        hostname: hostname.map(Into::into),
        pod_name: None,
        ready,
    }
}

fn slice(
    ns: &str,
    svc: &str,
    ports: Vec<DnsPort>,
    endpoints: Vec<DnsEndpoint>,
) -> DnsEndpointSlice {
    DnsEndpointSlice {
        namespace: ns.into(),
        name: format!("{svc}-abcde"),
        service: Some(svc.into()),
        ports,
        endpoints,
    }
}

/// The objects of the specification's examples.
fn spec_catalog(config: ZoneConfig) -> Catalog {
    let mut c = Catalog::new(config);
    c.upsert_namespace("default");
    c.upsert_service(service(
        "default",
        "kubernetes",
        DnsServiceKind::ClusterIp(vec![ip("10.3.0.1")]),
        vec![port("https", "tcp", 443)],
    ));
    c.upsert_service(service(
        "default",
        "headless",
        DnsServiceKind::Headless,
        vec![port("https", "tcp", 443)],
    ));
    c.upsert_slice(slice(
        "default",
        "headless",
        vec![port("https", "tcp", 443)],
        vec![
            endpoint("10.3.0.100", Some("my-pet"), true),
            endpoint("10.3.0.101", Some("my-pet-2"), true),
            endpoint("10.3.0.102", None, true),
            endpoint("10.3.0.103", Some("not-ready"), false),
        ],
    ));
    c.upsert_service(service(
        "default",
        "foo",
        DnsServiceKind::ExternalName("www.example.com".into()),
        vec![],
    ));
    c
}

struct Answer {
    outcome: Outcome,
    msg: Message,
}

fn ask_with(c: &mut Catalog, name: &str, qtype: RecordType, limit: usize) -> Answer {
    let snap = c.publish();
    let mut q = Message::query();
    q.add_query(hickory_proto::op::Query::query(
        name.parse().unwrap(),
        qtype,
    ));
    q.metadata.recursion_desired = true;
    let mut bytes = q.to_vec().unwrap();
    // hickory lower-cases names as it encodes them: put the spelling asked for back.
    let mut at = 12;
    for label in name.trim_end_matches('.').split('.') {
        bytes[at + 1..at + 1 + label.len()].copy_from_slice(label.as_bytes());
        at += 1 + label.len();
    }
    let parsed = parse_query(&bytes).unwrap();
    let mut out = Vec::new();
    let outcome = answer(&snap, &parsed, limit, &mut out);
    let msg = if out.is_empty() {
        Message::query()
    } else {
        Message::from_vec(&out).unwrap()
    };
    Answer { outcome, msg }
}

fn ask(c: &mut Catalog, name: &str, qtype: RecordType) -> Answer {
    ask_with(c, name, qtype, 65535)
}

impl Answer {
    fn rcode(&self) -> ResponseCode {
        self.msg.metadata.response_code
    }

    fn data(&self) -> Vec<String> {
        self.msg
            .answers
            .iter()
            .map(|r| r.data.to_string())
            .collect()
    }

    fn assert_nodata(&self) {
        assert_eq!(self.rcode(), ResponseCode::NoError);
        assert!(self.msg.answers.is_empty(), "{:?}", self.msg.answers);
        self.assert_soa();
    }

    fn assert_nxdomain(&self) {
        assert_eq!(self.rcode(), ResponseCode::NXDomain, "{:?}", self.msg);
        assert!(self.msg.answers.is_empty());
        self.assert_soa();
    }

    fn assert_soa(&self) {
        let soa = &self.msg.authorities;
        assert_eq!(soa.len(), 1, "SOA in the authority section");
        assert!(matches!(soa[0].data, RData::SOA(_)), "{soa:?}");
    }
}

#[test]
fn s2_2_schema_version_txt() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(a.rcode(), ResponseCode::NoError);
    assert_eq!(a.data(), ["1.1.0"]);
    assert!(a.msg.metadata.authoritative);
}

#[test]
fn s2_3_1_cluster_ip_a_record() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(
        &mut c,
        "kubernetes.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.3.0.1"]);
    assert_eq!(a.msg.answers[0].ttl, 30, "default TTL");
    assert_eq!(
        a.msg.answers[0].name.to_string(),
        "kubernetes.default.svc.cluster.local."
    );
}

#[test]
fn s2_3_2_cluster_ip_srv_record_with_additional_a() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(
        &mut c,
        "_https._tcp.kubernetes.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        a.data(),
        ["0 100 443 kubernetes.default.svc.cluster.local."]
    );
    assert_eq!(a.msg.additionals.len(), 1);
    assert_eq!(a.msg.additionals[0].data.to_string(), "10.3.0.1");
}

#[test]
fn s2_3_2_unnamed_ports_have_no_srv() {
    let mut c = spec_catalog(ZoneConfig::default());
    c.upsert_service(service(
        "default",
        "plain",
        DnsServiceKind::ClusterIp(vec![ip("10.3.0.9")]),
        vec![port("", "tcp", 80)],
    ));
    ask(
        &mut c,
        "_tcp.plain.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .assert_nxdomain();
}

#[test]
fn s2_3_3_cluster_ip_ptr_record() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "1.0.3.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(a.data(), ["kubernetes.default.svc.cluster.local."]);
}

#[test]
fn s2_4_1_headless_a_records_for_ready_endpoints() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "headless.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.data(), ["10.3.0.100", "10.3.0.101", "10.3.0.102"]);
    let a = ask(
        &mut c,
        "my-pet.headless.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.3.0.100"]);
    ask(
        &mut c,
        "not-ready.headless.default.svc.cluster.local.",
        RecordType::A,
    )
    .assert_nxdomain();
}

#[test]
fn s2_4_1_headless_without_ready_endpoints_is_nxdomain() {
    let mut c = spec_catalog(ZoneConfig::default());
    c.upsert_service(service(
        "default",
        "empty",
        DnsServiceKind::Headless,
        vec![],
    ));
    ask(&mut c, "empty.default.svc.cluster.local.", RecordType::A).assert_nxdomain();
}

#[test]
fn s2_4_1_publish_not_ready_addresses() {
    let mut c = spec_catalog(ZoneConfig::default());
    let mut svc = service("default", "headless", DnsServiceKind::Headless, vec![]);
    svc.publish_not_ready = true;
    c.upsert_service(svc);
    let a = ask(&mut c, "headless.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.data().len(), 4);
    let a = ask(
        &mut c,
        "not-ready.headless.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.3.0.103"]);
}

#[test]
fn s2_4_2_headless_srv_per_endpoint_hostname() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(
        &mut c,
        "_https._tcp.headless.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(
        a.data(),
        [
            "0 33 443 my-pet.headless.default.svc.cluster.local.",
            "0 33 443 my-pet-2.headless.default.svc.cluster.local.",
            "0 33 443 10-3-0-102.headless.default.svc.cluster.local.",
        ]
    );
    let extra: Vec<String> = a
        .msg
        .additionals
        .iter()
        .map(|r| format!("{} {}", r.name, r.data))
        .collect();
    assert_eq!(
        extra,
        [
            "my-pet.headless.default.svc.cluster.local. 10.3.0.100",
            "my-pet-2.headless.default.svc.cluster.local. 10.3.0.101",
            "10-3-0-102.headless.default.svc.cluster.local. 10.3.0.102",
        ]
    );
    // The system-assigned hostname resolves as well.
    let a = ask(
        &mut c,
        "10-3-0-102.headless.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.3.0.102"]);
}

#[test]
fn s2_4_3_headless_ptr_records() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "100.0.3.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(a.data(), ["my-pet.headless.default.svc.cluster.local."]);
}

#[test]
fn s2_5_external_name_cname_is_chased() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "foo.default.svc.cluster.local.", RecordType::A);
    match a.outcome {
        Outcome::Chase { target, .. } => assert_eq!(target.to_string(), "www.example.com."),
        other => panic!("{other:?}"),
    }
    let a = ask(&mut c, "foo.default.svc.cluster.local.", RecordType::CNAME);
    assert_eq!(a.data(), ["www.example.com."]);
}

#[test]
fn external_name_inside_the_zone_is_followed_from_the_index() {
    let mut c = spec_catalog(ZoneConfig::default());
    c.upsert_service(service(
        "default",
        "alias",
        DnsServiceKind::ExternalName("kubernetes.default.svc.cluster.local".into()),
        vec![],
    ));
    let a = ask(&mut c, "alias.default.svc.cluster.local.", RecordType::A);
    assert_eq!(
        a.data(),
        ["kubernetes.default.svc.cluster.local.", "10.3.0.1"]
    );
}

#[test]
fn s2_6_pod_records_insecure() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "1-2-3-4.default.pod.cluster.local.", RecordType::A);
    assert_eq!(a.data(), ["1.2.3.4"]);
    let a = ask(
        &mut c,
        "fd00--1.default.pod.cluster.local.",
        RecordType::AAAA,
    );
    assert_eq!(a.data(), ["fd00::1"]);
    ask(
        &mut c,
        "1-2-3-4.default.pod.cluster.local.",
        RecordType::AAAA,
    )
    .assert_nodata();
    ask(&mut c, "1-2-3-4.nosuchns.pod.cluster.local.", RecordType::A).assert_nxdomain();
    ask(
        &mut c,
        "not-an-ip.default.pod.cluster.local.",
        RecordType::A,
    )
    .assert_nxdomain();
}

#[test]
fn pod_records_verified_need_the_pod() {
    let cfg = ZoneConfig {
        pods: PodMode::Verified,
        ..ZoneConfig::default()
    };
    let mut c = spec_catalog(cfg);
    c.upsert_pod(DnsPod {
        namespace: "default".into(),
        name: "p".into(),
        ips: vec![ip("10.244.1.7")],
    });
    let a = ask(
        &mut c,
        "10-244-1-7.default.pod.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.244.1.7"]);
    ask(&mut c, "1-2-3-4.default.pod.cluster.local.", RecordType::A).assert_nxdomain();
    c.delete_pod("default", "p");
    ask(
        &mut c,
        "10-244-1-7.default.pod.cluster.local.",
        RecordType::A,
    )
    .assert_nxdomain();
}

#[test]
fn pod_records_disabled() {
    let cfg = ZoneConfig {
        pods: PodMode::Disabled,
        ..ZoneConfig::default()
    };
    let mut c = spec_catalog(cfg);
    ask(&mut c, "1-2-3-4.default.pod.cluster.local.", RecordType::A).assert_nxdomain();
    ask(&mut c, "default.pod.cluster.local.", RecordType::A).assert_nxdomain();
}

#[test]
fn existing_names_without_the_type_are_nodata() {
    let mut c = spec_catalog(ZoneConfig::default());
    ask(
        &mut c,
        "kubernetes.default.svc.cluster.local.",
        RecordType::AAAA,
    )
    .assert_nodata();
    ask(
        &mut c,
        "kubernetes.default.svc.cluster.local.",
        RecordType::MX,
    )
    .assert_nodata();
    // Intermediate names, as CoreDNS: the apex, svc, pod and an existing namespace.
    ask(&mut c, "cluster.local.", RecordType::A).assert_nodata();
    ask(&mut c, "svc.cluster.local.", RecordType::A).assert_nodata();
    ask(&mut c, "pod.cluster.local.", RecordType::A).assert_nodata();
    ask(&mut c, "default.svc.cluster.local.", RecordType::A).assert_nodata();
    ask(&mut c, "default.pod.cluster.local.", RecordType::A).assert_nodata();
    // A namespace that does not exist, and a label that is neither svc nor pod.
    ask(&mut c, "nosuchns.svc.cluster.local.", RecordType::A).assert_nxdomain();
    ask(&mut c, "other.cluster.local.", RecordType::A).assert_nxdomain();
}

#[test]
fn apex_soa_and_ns() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "cluster.local.", RecordType::SOA);
    assert_eq!(a.msg.answers.len(), 1);
    assert!(
        a.data()[0].starts_with("ns.dns.cluster.local. hostmaster.cluster.local."),
        "{:?}",
        a.data()
    );
    let a = ask(&mut c, "cluster.local.", RecordType::NS);
    assert_eq!(a.data(), ["ns.dns.cluster.local."]);
}

#[test]
fn ndots_search_list_misses_are_nxdomain_without_forwarding() {
    let mut c = spec_catalog(ZoneConfig::default());
    for name in [
        "example.com.default.svc.cluster.local.",
        "example.com.svc.cluster.local.",
        "example.com.cluster.local.",
    ] {
        let a = ask(&mut c, name, RecordType::A);
        assert!(
            matches!(a.outcome, Outcome::Answered { rcode: 3, .. }),
            "{name}"
        );
        a.assert_nxdomain();
    }
    assert_eq!(
        ask(&mut c, "example.com.", RecordType::A).outcome,
        Outcome::NotOurs
    );
}

#[test]
fn unknown_reverse_names_fall_through_as_the_default_corefile_says() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(&mut c, "9.9.9.9.in-addr.arpa.", RecordType::PTR);
    assert_eq!(a.outcome, Outcome::NotOurs);
    let cfg = ZoneConfig {
        fallthrough: None,
        ..ZoneConfig::default()
    };
    let mut c = spec_catalog(cfg);
    ask(&mut c, "9.9.9.9.in-addr.arpa.", RecordType::PTR).assert_nxdomain();
}

#[test]
fn comparisons_are_case_insensitive_and_the_question_keeps_its_case() {
    let mut c = spec_catalog(ZoneConfig::default());
    let a = ask(
        &mut c,
        "KuberNetes.Default.SVC.cluster.LOCAL.",
        RecordType::A,
    );
    assert_eq!(a.data(), ["10.3.0.1"]);
    assert_eq!(
        a.msg.queries[0].name().to_string(),
        "KuberNetes.Default.SVC.cluster.LOCAL."
    );
    assert_eq!(
        a.msg.answers[0].name.to_string(),
        "KuberNetes.Default.SVC.cluster.LOCAL."
    );
}

#[test]
fn ttl_is_configurable() {
    let cfg = ZoneConfig {
        ttl: 5,
        ..ZoneConfig::default()
    };
    let mut c = spec_catalog(cfg);
    let a = ask(
        &mut c,
        "kubernetes.default.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(a.msg.answers[0].ttl, 5);
    let a = ask(&mut c, "nope.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.msg.authorities[0].ttl, 5);
}

#[test]
fn dual_stack_service_answers_both_families() {
    let mut c = spec_catalog(ZoneConfig::default());
    c.upsert_service(service(
        "default",
        "ds",
        DnsServiceKind::ClusterIp(vec![ip("10.3.0.5"), ip("fd00::5")]),
        vec![],
    ));
    assert_eq!(
        ask(&mut c, "ds.default.svc.cluster.local.", RecordType::A).data(),
        ["10.3.0.5"]
    );
    assert_eq!(
        ask(&mut c, "ds.default.svc.cluster.local.", RecordType::AAAA).data(),
        ["fd00::5"]
    );
    let rev = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    assert_eq!(
        ask(&mut c, rev, RecordType::PTR).data(),
        ["ds.default.svc.cluster.local."]
    );
}

#[test]
fn deleting_a_service_removes_every_name() {
    let mut c = spec_catalog(ZoneConfig::default());
    let before = c.publish().len();
    c.upsert_service(service(
        "default",
        "tmp",
        DnsServiceKind::ClusterIp(vec![ip("10.3.0.7")]),
        vec![port("http", "tcp", 80)],
    ));
    assert!(c.publish().len() > before);
    c.delete_service("default", "tmp");
    assert_eq!(c.publish().len(), before);
    ask(&mut c, "tmp.default.svc.cluster.local.", RecordType::A).assert_nxdomain();
    ask(&mut c, "7.0.3.10.in-addr.arpa.", RecordType::PTR);
}

#[test]
fn slice_changes_update_the_headless_records() {
    let mut c = spec_catalog(ZoneConfig::default());
    c.delete_slice("default", "headless-abcde");
    ask(&mut c, "headless.default.svc.cluster.local.", RecordType::A).assert_nxdomain();
    c.upsert_slice(slice(
        "default",
        "headless",
        vec![],
        vec![endpoint("10.3.0.200", None, true)],
    ));
    let a = ask(&mut c, "headless.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a.data(), ["10.3.0.200"]);
}

#[test]
fn an_earlier_snapshot_is_unaffected_by_later_changes() {
    let mut c = spec_catalog(ZoneConfig::default());
    let old = c.publish();
    c.delete_service("default", "kubernetes");
    let new = c.publish();
    let name = podnet_dns_records::Name::parse("kubernetes.default.svc.cluster.local").unwrap();
    assert!(old.lookup(name.wire()).is_some());
    assert!(new.lookup(name.wire()).is_none());
}

#[test]
fn udp_answers_that_do_not_fit_are_truncated() {
    let mut c = spec_catalog(ZoneConfig::default());
    let endpoints = (0..60)
        .map(|i| endpoint(&format!("10.4.0.{i}"), None, true))
        .collect();
    c.upsert_service(service("default", "big", DnsServiceKind::Headless, vec![]));
    c.upsert_slice(slice("default", "big", vec![], endpoints));
    let a = ask_with(&mut c, "big.default.svc.cluster.local.", RecordType::A, 512);
    assert!(a.msg.metadata.truncation);
    assert!(a.msg.answers.is_empty());
    let a = ask_with(
        &mut c,
        "big.default.svc.cluster.local.",
        RecordType::A,
        65535,
    );
    assert!(!a.msg.metadata.truncation);
    assert_eq!(a.msg.answers.len(), 60);
}
