//! DNS: the destination's name resolved as the source pod's resolver would — its
//! nameserver (the cluster DNS Service for `dnsPolicy: ClusterFirst`), its search path and
//! `ndots` — against the records the cluster DNS synthesises (podnet-dns-records, from the
//! same objects), and whether that DNS is reachable at all: its endpoints, and policy on
//! the query's way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::{Pod, Service};
use podnet_dns_records::wire::{
    CLASS_IN, FLAG_RD, RCODE_NOERROR, Section, TYPE_A, TYPE_AAAA, rcode_name, walk,
};
use podnet_dns_records::{Catalog, Name, Outcome, ZoneConfig, answer, parse_query};
use podnet_k8s_model::{DnsEndpointSlice, DnsPod, DnsService, namespace_name};

use super::endpoints::{cluster_ip, service_endpoints};
use super::policy;
use crate::address::Protocol;
use crate::objects::{Objects, key};
use crate::report::{Layer, LayerName};
use crate::walk::Walk;

/// The cluster DNS Service, as kubeadm (and the lab) name it.
pub const DNS_NAMESPACE: &str = "kube-system";
pub const DNS_SERVICE: &str = "kube-dns";
/// The kubelet's default `ndots` for ClusterFirst pods.
const NDOTS: usize = 5;

/// What the name resolved to.
pub enum Answer<'a> {
    Address(IpAddr),
    /// A headless Service's name: its ready endpoints' addresses.
    Headless(&'a Service),
}

/// The search list and `ndots` of `pod`'s resolv.conf, as the kubelet writes it.
pub fn resolver(pod: Option<&Pod>, domain: &str) -> (Vec<String>, usize) {
    let Some(pod) = pod else {
        return (Vec::new(), 1);
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.clone().unwrap_or_default();
    let mut search = vec![
        format!("{ns}.svc.{domain}"),
        format!("svc.{domain}"),
        domain.to_owned(),
    ];
    let mut ndots = NDOTS;
    if let Some(cfg) = spec.dns_config {
        search.extend(cfg.searches.unwrap_or_default());
        for o in cfg.options.unwrap_or_default() {
            if o.name.as_deref() == Some("ndots")
                && let Some(n) = o.value.and_then(|v| v.parse().ok())
            {
                ndots = n;
            }
        }
    }
    if spec.dns_policy.as_deref() == Some("None") {
        search.drain(..3);
    }
    (search, ndots)
}

/// The names a stub resolver tries for `name`, in order (glibc's: the search list first
/// when the name has fewer than `ndots` dots, the name as it is first otherwise).
pub fn candidates(name: &str, search: &[String], ndots: usize) -> Vec<String> {
    if let Some(abs) = name.strip_suffix('.') {
        return vec![abs.to_owned()];
    }
    let expanded = search.iter().map(|s| format!("{name}.{s}"));
    if name.matches('.').count() >= ndots {
        std::iter::once(name.to_owned()).chain(expanded).collect()
    } else {
        expanded.chain(std::iter::once(name.to_owned())).collect()
    }
}

/// The records the cluster DNS would serve from `objects` for `names`: every namespace,
/// and the Services (and their slices) one of the names' labels names — a record of any
/// other Service cannot answer them, and building thousands costs more than the rest of
/// the walk.
pub fn catalog(objects: &Objects, domain: &str, names: &[String]) -> Catalog {
    let labels: std::collections::BTreeSet<&str> =
        names.iter().flat_map(|n| n.split('.')).collect();
    let named = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.name.as_deref().is_some_and(|n| labels.contains(n))
    };
    let config = if domain == "cluster.local" {
        ZoneConfig::default()
    } else {
        let mut c =
            ZoneConfig::for_zones(&[domain, "in-addr.arpa", "ip6.arpa"]).unwrap_or_default();
        c.fallthrough = Some(c.reverse.clone());
        c
    };
    let mut cat = Catalog::new(config);
    for ns in &objects.namespaces {
        if let Ok(n) = namespace_name(ns) {
            cat.upsert_namespace(&n);
        }
    }
    for s in objects.services.iter().filter(|s| named(&s.metadata)) {
        if let Ok(s) = DnsService::from_service(s) {
            cat.upsert_service(s);
        }
    }
    let of_named = |s: &&k8s_openapi::api::discovery::v1::EndpointSlice| {
        s.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(podnet_k8s_model::SERVICE_NAME_LABEL))
            .is_some_and(|n| labels.contains(n.as_str()))
    };
    for s in objects.slices.iter().filter(of_named) {
        if let Ok(s) = DnsEndpointSlice::from_slice(s) {
            cat.upsert_slice(s);
        }
    }
    // Pods are few beside Services, and `pods verified` answers from any of them.
    for p in &objects.pods {
        if let Ok(p) = DnsPod::from_pod(p) {
            cat.upsert_pod(p);
        }
    }
    cat
}

/// One question's answer: the rcode and the addresses, or where it went instead.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Answered {
        rcode: u8,
        addrs: Vec<IpAddr>,
    },
    /// Outside the cluster zones: forwarded upstream.
    Forwarded,
    /// An ExternalName's CNAME to a name outside.
    Alias(String),
}

pub fn ask(snapshot: &podnet_dns_records::Snapshot, name: &str) -> Reply {
    let Ok(qname) = Name::parse(name) else {
        return Reply::Answered {
            rcode: podnet_dns_records::wire::RCODE_FORMERR,
            addrs: Vec::new(),
        };
    };
    let mut packet = vec![0x70, 0x74];
    packet.extend_from_slice(&FLAG_RD.to_be_bytes());
    packet.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    packet.extend_from_slice(qname.wire());
    packet.extend_from_slice(&TYPE_A.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    let Ok(q) = parse_query(&packet) else {
        unreachable!("a question we built parses");
    };
    let mut out = Vec::new();
    match answer(snapshot, &q, usize::from(u16::MAX), &mut out) {
        Outcome::NotOurs => Reply::Forwarded,
        Outcome::Chase { target, .. } => Reply::Alias(show_name(target.wire())),
        Outcome::Answered { rcode, .. } => {
            let addrs = walk(&out)
                .map(|(_, rrs)| {
                    rrs.iter()
                        .filter(|r| r.section == Section::Answer)
                        .filter_map(|r| {
                            let data = out.get(r.rdata_at..r.rdata_at + usize::from(r.rdlen))?;
                            match r.rtype {
                                TYPE_A => <[u8; 4]>::try_from(data)
                                    .ok()
                                    .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
                                TYPE_AAAA => <[u8; 16]>::try_from(data)
                                    .ok()
                                    .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
                                _ => None,
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            Reply::Answered { rcode, addrs }
        }
    }
}

fn show_name(wire: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut i = 0;
    while let Some(&len) = wire.get(i) {
        if len == 0 {
            break;
        }
        let l = wire
            .get(i + 1..i + 1 + usize::from(len))
            .unwrap_or_default();
        labels.push(String::from_utf8_lossy(l).into_owned());
        i += 1 + usize::from(len);
    }
    labels.join(".")
}

/// Resolves `name` from the walk's source; the layer, and the answer when there is one.
pub fn resolve<'a>(walk: &Walk<'a>, name: &str) -> (Layer, Option<Answer<'a>>) {
    let objects = walk.objects;
    let domain = &walk.options.cluster_domain;
    let src = &walk.source;
    let mut evidence = Vec::new();
    let mut broken = Vec::new();
    if let Some(pod) = src.pod {
        let policy = pod
            .spec
            .as_ref()
            .and_then(|s| s.dns_policy.clone())
            .unwrap_or_else(|| "ClusterFirst".to_owned());
        if policy == "Default" {
            return (
                Layer::broken(
                    LayerName::Dns,
                    vec![format!(
                        "pod {} has dnsPolicy Default: it asks the node's resolver, which does not know {domain} names",
                        key(&pod.metadata)
                    )],
                ),
                None,
            );
        }
    }
    let Some(dns) = objects.service(DNS_NAMESPACE, DNS_SERVICE) else {
        return (
            Layer::broken(
                LayerName::Dns,
                vec![format!(
                    "no Service {DNS_NAMESPACE}/{DNS_SERVICE}: the cluster has no DNS"
                )],
            ),
            None,
        );
    };
    let server = cluster_ip(dns);
    evidence.push(format!(
        "server {} ({DNS_NAMESPACE}/{DNS_SERVICE})",
        server
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none (headless)".to_owned())
    ));
    // The DNS server's own endpoints and the query's way to them.
    let udp53 = dns
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .find(|p| p.protocol.as_deref() == Some("UDP") && p.port == 53);
    if let Some(port) = udp53 {
        let eps = service_endpoints(objects, dns, port);
        let ready: Vec<_> = eps.iter().filter(|e| e.ready).collect();
        if ready.is_empty() {
            broken.push(format!(
                "{DNS_NAMESPACE}/{DNS_SERVICE} has no ready endpoint: every query times out (DNS pods down?)"
            ));
            for e in &eps {
                let why = objects
                    .pod_by_ip(e.addr.ip())
                    .map(super::endpoints::not_ready_reason)
                    .unwrap_or_else(|| "not ready".to_owned());
                broken.push(format!("endpoint {}: {why}", e.addr));
            }
        } else {
            evidence.push(format!(
                "{} ready DNS endpoint(s): {}",
                ready.len(),
                ready
                    .iter()
                    .map(|e| e.addr.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            if src.pod.is_some() {
                let cluster = policy::cluster(objects);
                let verdicts: Vec<_> = ready
                    .iter()
                    .map(|e| {
                        policy::decide(&cluster, src.ip, e.addr.ip(), Protocol::Udp, e.addr.port())
                    })
                    .collect();
                if verdicts.iter().all(Result::is_err) {
                    broken.push("the query to the cluster DNS is blocked by policy".to_owned());
                    if let Some(Err(lines)) = verdicts.into_iter().next() {
                        broken.extend(lines);
                    }
                }
            }
        }
    }
    if !broken.is_empty() {
        broken.extend(evidence);
        return (Layer::broken(LayerName::Dns, broken), None);
    }
    let (search, ndots) = resolver(src.pod, domain);
    if src.pod.is_some() {
        evidence.push(format!("search {} (ndots {ndots})", search.join(" ")));
    }
    let tried = candidates(name, &search, ndots);
    let snapshot = catalog(objects, domain, &tried).publish();
    for candidate in tried {
        match ask(&snapshot, &candidate) {
            Reply::Answered { rcode, addrs } if rcode == RCODE_NOERROR && !addrs.is_empty() => {
                evidence.push(format!(
                    "{candidate}: {}",
                    addrs
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let answer = match headless(objects, &candidate, domain) {
                    Some(svc) => Answer::Headless(svc),
                    None => Answer::Address(addrs[0]),
                };
                return (Layer::ok(LayerName::Dns, evidence), Some(answer));
            }
            Reply::Answered { rcode, .. } => {
                let what = if rcode == RCODE_NOERROR {
                    "no address (NODATA)"
                } else {
                    rcode_name(u16::from(rcode))
                };
                evidence.push(format!("{candidate}: {what}"));
            }
            // A single label no cluster name matched goes upstream, where it does not
            // resolve either.
            Reply::Forwarded if !candidate.contains('.') => {
                evidence.push(format!("{candidate}: outside {domain}, forwarded upstream"));
            }
            Reply::Forwarded => {
                evidence.push(format!(
                    "{candidate}: outside {domain}, forwarded upstream (what-if does not ask upstream servers; trace its address instead)"
                ));
                return (not_followed(evidence), None);
            }
            Reply::Alias(target) => {
                evidence.push(format!(
                    "{candidate}: CNAME {target} (an ExternalName Service), resolved upstream; trace its address instead"
                ));
                return (not_followed(evidence), None);
            }
        }
    }
    evidence.insert(
        0,
        format!("{name} does not resolve: every name tried answered NXDOMAIN or nothing"),
    );
    (Layer::broken(LayerName::Dns, evidence), None)
}

/// A name the cluster DNS hands upstream: the walk cannot go on from intent alone.
fn not_followed(evidence: Vec<String>) -> Layer {
    Layer {
        layer: LayerName::Dns,
        verdict: crate::report::Verdict::NotApplicable,
        evidence,
    }
}

/// The headless Service `name` is the name of, if it is one.
fn headless<'a>(objects: &'a Objects, name: &str, domain: &str) -> Option<&'a Service> {
    let rest = name.strip_suffix(&format!(".svc.{domain}"))?;
    let (svc, ns) = rest.split_once('.')?;
    let s = objects.service(ns, svc)?;
    cluster_ip(s).is_none().then_some(s)
}
