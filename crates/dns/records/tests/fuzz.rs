//! The message path under garbage: 150k random and mutated messages (bit flips, cuts,
//! compression-pointer loops, absurd counts, oversized) through `parse_query`, `answer` and
//! `walk`. Nothing may panic, every answer must itself be a well-formed message, and a UDP
//! answer must fit the client's limit. Deterministic (a fixed-seed generator), so a failure
//! reproduces.

use podnet_dns_records::wire::{self, Reject};
use podnet_dns_records::{Catalog, Outcome, ZoneConfig, answer, parse_query};
use podnet_k8s_model::{DnsEndpoint, DnsEndpointSlice, DnsPort, DnsService, DnsServiceKind};

use podnet_test_util::Rng;
use podnet_test_util::dns_garbage::message;

fn catalog() -> Catalog {
    let mut c = Catalog::new(ZoneConfig::default());
    c.upsert_namespace("ns1");
    c.upsert_service(DnsService {
        namespace: "ns1".into(),
        name: "web".into(),
        kind: DnsServiceKind::ClusterIp(vec!["10.96.0.20".parse().unwrap()]),
        ports: vec![DnsPort {
            name: "http".into(),
            protocol: "tcp".into(),
            port: 80,
        }],
        publish_not_ready: false,
    });
    c.upsert_service(DnsService {
        namespace: "ns1".into(),
        name: "ext".into(),
        kind: DnsServiceKind::ExternalName("example.com".into()),
        ports: vec![],
        publish_not_ready: false,
    });
    c.upsert_service(DnsService {
        namespace: "ns1".into(),
        name: "big".into(),
        kind: DnsServiceKind::Headless,
        ports: vec![],
        publish_not_ready: false,
    });
    c.upsert_slice(DnsEndpointSlice {
        namespace: "ns1".into(),
        name: "big-1".into(),
        service: Some("big".into()),
        ports: vec![DnsPort {
            name: "p".into(),
            protocol: "tcp".into(),
            port: 1,
        }],
        endpoints: (0..90)
            .map(|i| DnsEndpoint {
                addresses: vec![format!("10.244.0.{i}").parse().unwrap()],
                hostname: Some(format!("h{i}")),
                pod_name: None,
                ready: true,
            })
            .collect(),
    });
    c
}

#[test]
fn a_hundred_and_fifty_thousand_bad_messages_never_panic_and_answers_stay_well_formed() {
    let snap = catalog().publish();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(4096);
    let (mut answered, mut rejected) = (0, 0);
    for _ in 0..150_000 {
        let m = message(&mut rng);
        let _ = wire::walk(&m);
        let _ = wire::read_name(&m, rng.below(m.len() + 1));
        match parse_query(&m) {
            Ok(q) => {
                let limit = [512, 1232, 65535][rng.below(3)];
                if let Outcome::Answered { .. } = answer(&snap, &q, limit, &mut out) {
                    answered += 1;
                    assert!(
                        out.len() <= limit.max(q.udp_limit()),
                        "answer of {} bytes over {limit}",
                        out.len()
                    );
                    let (_, rrs) = wire::walk(&out).expect("answers are well-formed messages");
                    let counts: usize = (0..3)
                        .map(|i| u16::from_be_bytes([out[6 + 2 * i], out[7 + 2 * i]]) as usize)
                        .sum();
                    assert_eq!(rrs.len(), counts);
                    assert_eq!(out[..2], m[..2], "the client's ID");
                }
            }
            Err(r) => {
                rejected += 1;
                wire::write_rejection(&mut out, &m, r);
                if r != Reject::Drop {
                    assert!(wire::walk(&out).is_some(), "rejections are well-formed");
                }
            }
        }
    }
    assert!(
        answered > 15_000 && rejected > 50_000,
        "both paths exercised: {answered} {rejected}"
    );
}
