//! A datagram into the cluster DNS answer path, as `podnet dns` runs it for every query
//! (parse, answer from the published snapshot, or write the rejection): nothing panics, an
//! answer is a well-formed message whose section counts match its records, it carries the
//! client's ID and fits the client's UDP limit, and a rejection other than a silent drop is a
//! well-formed message too.

use std::sync::LazyLock;

use podnet_dns_records::wire::{self, Reject};
use podnet_dns_records::{Catalog, Outcome, Snapshot, ZoneConfig, answer, parse_query};
use podnet_k8s_model::{
    DnsEndpoint, DnsEndpointSlice, DnsPod, DnsPort, DnsService, DnsServiceKind,
};

/// A small cluster with one of each kind of name: a ClusterIP Service with a named port, an
/// ExternalName, a headless Service whose endpoints have hostnames, dual-stack addresses,
/// and a Pod.
static SNAPSHOT: LazyLock<std::sync::Arc<Snapshot>> = LazyLock::new(|| {
    let mut c = Catalog::new(ZoneConfig::default());
    c.upsert_namespace("default");
    c.upsert_service(DnsService {
        namespace: "default".into(),
        name: "kubernetes".into(),
        kind: DnsServiceKind::ClusterIp(vec![
            "10.96.0.1".parse().unwrap(),
            "fd00:10:96::1".parse().unwrap(),
        ]),
        ports: vec![DnsPort {
            name: "https".into(),
            protocol: "tcp".into(),
            port: 443,
        }],
        publish_not_ready: false,
    });
    c.upsert_service(DnsService {
        namespace: "default".into(),
        name: "alias".into(),
        kind: DnsServiceKind::ExternalName("www.example.org".into()),
        ports: vec![],
        publish_not_ready: false,
    });
    c.upsert_service(DnsService {
        namespace: "default".into(),
        name: "db".into(),
        kind: DnsServiceKind::Headless,
        ports: vec![],
        publish_not_ready: true,
    });
    c.upsert_slice(DnsEndpointSlice {
        namespace: "default".into(),
        name: "db-abc".into(),
        service: Some("db".into()),
        ports: vec![DnsPort {
            name: "sql".into(),
            protocol: "udp".into(),
            port: 5432,
        }],
        endpoints: (0..40)
            .map(|i| DnsEndpoint {
                addresses: vec![format!("10.244.1.{i}").parse().unwrap()],
                hostname: (i % 3 != 0).then(|| format!("db-{i}")),
                pod_name: Some(format!("db-{i}")),
                ready: i % 5 != 0,
            })
            .collect(),
    });
    c.upsert_pod(DnsPod {
        namespace: "default".into(),
        name: "web-0".into(),
        ips: vec!["10.244.2.7".parse().unwrap()],
    });
    c.publish()
});

/// One input; panics on what the input must not break.
pub fn dns_message(data: &[u8]) {
    // The first byte picks the transport's limit, the rest is the datagram.
    let Some((&pick, packet)) = data.split_first() else {
        return;
    };
    let limit = [512, 1232, 4096, 65535][pick as usize % 4];
    let mut out = Vec::new();
    let _ = wire::walk(packet);
    let _ = wire::read_name(packet, pick as usize % (packet.len() + 1));
    match parse_query(packet) {
        Ok(q) => {
            if let Outcome::Answered { .. } = answer(&SNAPSHOT, &q, limit, &mut out) {
                assert!(
                    out.len() <= limit.max(q.udp_limit()),
                    "an answer of {} bytes over the limit {limit}",
                    out.len()
                );
                let (_, rrs) = wire::walk(&out).expect("answers are well-formed messages");
                let counts: usize = (0..3)
                    .map(|i| u16::from_be_bytes([out[6 + 2 * i], out[7 + 2 * i]]) as usize)
                    .sum();
                assert_eq!(rrs.len(), counts, "section counts match the records");
                assert_eq!(out[..2], packet[..2], "the client's ID");
            }
        }
        Err(reject) => {
            wire::write_rejection(&mut out, packet, reject);
            if reject != Reject::Drop {
                assert!(wire::walk(&out).is_some(), "rejections are well-formed");
                assert_eq!(out[..2], packet[..2], "the client's ID");
            }
        }
    }
}
