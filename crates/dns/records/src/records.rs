//! Record synthesis: which names a Service (with its EndpointSlices), a Namespace, a Pod or
//! the zone itself publishes, and their record data — the specification's §2.2–§2.6 and
//! CoreDNS's behaviour where the specification leaves room.

use std::collections::BTreeSet;
use std::net::IpAddr;

use podnet_k8s_model::{DnsEndpointSlice, DnsPod, DnsService, DnsServiceKind, ip_label};

use crate::config::{PodMode, SCHEMA_VERSION, ZoneConfig};
use crate::wire::{Name, TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_NS, TYPE_PTR, TYPE_SRV, TYPE_TXT};

/// One record's type and data (owner and TTL come from where it is placed).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    pub rtype: u16,
    pub rdata: Box<[u8]>,
}

/// What one owner (a Service, a Namespace, …) puts at one name: records, and records for
/// the additional section (the addresses of SRV targets).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Piece {
    pub rrs: Vec<Rec>,
    pub extra: Vec<(Name, Rec)>,
}

/// Names and pieces, in the order produced (one name may appear more than once).
pub type Pieces = Vec<(Name, Piece)>;

// === record data ===

pub fn addr(ip: IpAddr) -> Rec {
    match ip {
        IpAddr::V4(v4) => Rec {
            rtype: TYPE_A,
            rdata: v4.octets().into(),
        },
        IpAddr::V6(v6) => Rec {
            rtype: TYPE_AAAA,
            rdata: v6.octets().into(),
        },
    }
}

fn name_rec(rtype: u16, target: &Name) -> Rec {
    Rec {
        rtype,
        rdata: target.wire().into(),
    }
}

fn srv(weight: u16, port: u16, target: &Name) -> Rec {
    let mut d = Vec::with_capacity(6 + target.len());
    d.extend_from_slice(&0u16.to_be_bytes());
    d.extend_from_slice(&weight.to_be_bytes());
    d.extend_from_slice(&port.to_be_bytes());
    d.extend_from_slice(target.wire());
    Rec {
        rtype: TYPE_SRV,
        rdata: d.into(),
    }
}

fn txt(text: &str) -> Rec {
    let mut d = vec![text.len() as u8];
    d.extend_from_slice(text.as_bytes());
    Rec {
        rtype: TYPE_TXT,
        rdata: d.into(),
    }
}

/// SOA rdata: `ns.dns.<zone> hostmaster.<zone> serial 7200 1800 86400 <minimum>` (CoreDNS's).
pub fn soa_rdata(zone: &Name, serial: u32, minimum: u32) -> Vec<u8> {
    let mut d = Vec::new();
    let mname = Name::parse("ns.dns").map(|n| join(&n, zone));
    let rname = Name::parse("hostmaster").map(|n| join(&n, zone));
    for n in [mname, rname].into_iter().flatten() {
        d.extend_from_slice(n.wire());
    }
    for v in [serial, 7200, 1800, 86400, minimum] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d
}

/// `prefix.suffix` for a relative `prefix` (its root label dropped); falls back to `suffix`
/// when the result would be too long (only for built-in names on absurd zones).
fn join(prefix: &Name, suffix: &Name) -> Name {
    let p = &prefix.wire()[..prefix.len() - 1];
    if p.len() + suffix.len() > crate::wire::MAX_NAME {
        return suffix.clone();
    }
    let mut w = p.to_vec();
    w.extend_from_slice(suffix.wire());
    Name::from_wire(&w)
}

/// The reverse-lookup name of an address (`d.c.b.a.in-addr.arpa.`, nibbles for IPv6).
pub fn reverse_name(ip: IpAddr) -> Name {
    let text = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xF, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    };
    Name::parse(&text).expect("reverse names are well-formed")
}

// === owners ===

/// The zone's own names: SOA and NS at the apex, `dns-version` TXT, and `svc`/`pod`, which
/// exist without records (NODATA, as CoreDNS answers them).
pub fn zone_pieces(config: &ZoneConfig, serial: u32) -> Pieces {
    let mut out = Pieces::new();
    for zone in &config.zones {
        let ns = Name::parse("ns.dns").map(|n| join(&n, zone)).ok();
        let apex = Piece {
            rrs: ns
                .iter()
                .map(|ns| name_rec(TYPE_NS, ns))
                .chain([Rec {
                    rtype: crate::wire::TYPE_SOA,
                    rdata: soa_rdata(zone, serial, config.ttl).into(),
                }])
                .collect(),
            extra: Vec::new(),
        };
        out.push((zone.clone(), apex));
        for (label, piece) in [
            (
                "dns-version",
                Piece {
                    rrs: vec![txt(SCHEMA_VERSION)],
                    extra: Vec::new(),
                },
            ),
            ("svc", Piece::default()),
            ("pod", Piece::default()),
        ] {
            if let Ok(name) = zone.child(label) {
                out.push((name, piece));
            }
        }
    }
    for zone in &config.reverse {
        let apex = Piece {
            rrs: vec![Rec {
                rtype: crate::wire::TYPE_SOA,
                rdata: soa_rdata(zone, serial, config.ttl).into(),
            }],
            extra: Vec::new(),
        };
        out.push((zone.clone(), apex));
    }
    out
}

/// `<ns>.svc.<zone>` (and `<ns>.pod.<zone>` unless pod records are disabled) exist for an
/// existing namespace: NODATA rather than NXDOMAIN.
pub fn namespace_pieces(config: &ZoneConfig, namespace: &str) -> Pieces {
    let mut out = Pieces::new();
    if !config.exposes(namespace) {
        return out;
    }
    for zone in &config.zones {
        let mut kinds = vec!["svc"];
        if config.pods != PodMode::Disabled {
            kinds.push("pod");
        }
        for kind in kinds {
            if let Ok(n) = zone.child(kind).and_then(|z| z.child(namespace)) {
                out.push((n, Piece::default()));
            }
        }
    }
    out
}

/// `pods verified`: `<a-b-c-d>.<ns>.pod.<zone>` for each address of the Pod.
pub fn pod_pieces(config: &ZoneConfig, pod: &DnsPod) -> Pieces {
    let mut out = Pieces::new();
    if config.pods != PodMode::Verified || !config.exposes(&pod.namespace) {
        return out;
    }
    for zone in &config.zones {
        for ip in &pod.ips {
            let name = zone
                .child("pod")
                .and_then(|z| z.child(&pod.namespace))
                .and_then(|z| z.child(&ip_label(*ip)));
            if let Ok(name) = name {
                out.push((
                    name,
                    Piece {
                        rrs: vec![addr(*ip)],
                        extra: Vec::new(),
                    },
                ));
            }
        }
    }
    out
}

/// SRV targets of one named port: (port, target name, address).
type SrvTargets<'a> = Vec<(u16, &'a Name, IpAddr)>;

/// An endpoint address as published: its DNS label and the slice ports it serves.
struct Published<'a> {
    ip: IpAddr,
    label: String,
    slice: &'a DnsEndpointSlice,
}

/// Everything a Service publishes, under every cluster zone, plus its PTR records.
pub fn service_pieces(
    config: &ZoneConfig,
    svc: &DnsService,
    slices: &[&DnsEndpointSlice],
) -> Pieces {
    let mut out = Pieces::new();
    if !config.exposes(&svc.namespace) {
        return out;
    }
    // Endpoint addresses, once each (several slices may list one address).
    let mut seen = BTreeSet::new();
    let mut published = Vec::new();
    for slice in slices {
        for ep in &slice.endpoints {
            if !(ep.ready || svc.publish_not_ready) {
                continue;
            }
            for &ip in &ep.addresses {
                if seen.insert(ip) {
                    published.push(Published {
                        ip,
                        label: ep.dns_label(ip, config.endpoint_pod_names),
                        slice,
                    });
                }
            }
        }
    }
    for (zi, zone) in config.zones.iter().enumerate() {
        let Ok(base) = zone
            .child("svc")
            .and_then(|z| z.child(&svc.namespace))
            .and_then(|z| z.child(&svc.name))
        else {
            continue;
        };
        let primary = zi == 0;
        // Endpoint hostname records (`<hostname>.<svc>.<ns>.svc.<zone>`), for every Service
        // with endpoints as CoreDNS answers them; PTRs for them from the primary zone.
        let mut endpoint_names = Vec::with_capacity(published.len());
        for p in &published {
            let Ok(name) = base.child(&p.label) else {
                endpoint_names.push(None);
                continue;
            };
            out.push((
                name.clone(),
                Piece {
                    rrs: vec![addr(p.ip)],
                    extra: Vec::new(),
                },
            ));
            if primary {
                ptr(config, &mut out, p.ip, &name);
            }
            endpoint_names.push(Some(name));
        }
        match &svc.kind {
            DnsServiceKind::ClusterIp(ips) => {
                let addrs: Vec<Rec> = ips.iter().map(|ip| addr(*ip)).collect();
                out.push((
                    base.clone(),
                    Piece {
                        rrs: addrs.clone(),
                        extra: Vec::new(),
                    },
                ));
                if primary {
                    for ip in ips {
                        ptr(config, &mut out, *ip, &base);
                    }
                }
                for port in svc.ports.iter().filter(|p| !p.name.is_empty()) {
                    let Some(name) = srv_name(&base, &port.name, &port.protocol) else {
                        continue;
                    };
                    // As CoreDNS: the SRV name also answers A/AAAA with the service address.
                    let mut rrs = vec![srv(100, port.port, &base)];
                    rrs.extend(addrs.iter().cloned());
                    let extra = addrs.iter().map(|a| (base.clone(), a.clone())).collect();
                    out.push((name, Piece { rrs, extra }));
                }
            }
            DnsServiceKind::Headless => {
                if published.is_empty() {
                    // No ready endpoints: the name does not exist (spec §2.4.1).
                    continue;
                }
                let addrs: Vec<Rec> = published.iter().map(|p| addr(p.ip)).collect();
                out.push((
                    base.clone(),
                    Piece {
                        rrs: addrs,
                        extra: Vec::new(),
                    },
                ));
                // SRV per (endpoint, named port of its slice); the port is the endpoint's
                // (target) port, as CoreDNS takes it from the EndpointSlice.
                let mut by_port: Vec<(String, String, SrvTargets)> = Vec::new();
                for (p, ep_name) in published.iter().zip(&endpoint_names) {
                    let Some(ep_name) = ep_name else { continue };
                    for port in p.slice.ports.iter().filter(|p| !p.name.is_empty()) {
                        let key = (port.name.clone(), port.protocol.clone());
                        match by_port
                            .iter_mut()
                            .find(|(n, pr, _)| (n, pr) == (&key.0, &key.1))
                        {
                            Some((_, _, v)) => v.push((port.port, ep_name, p.ip)),
                            None => by_port.push((key.0, key.1, vec![(port.port, ep_name, p.ip)])),
                        }
                    }
                }
                for (port_name, proto, targets) in by_port {
                    let Some(name) = srv_name(&base, &port_name, &proto) else {
                        continue;
                    };
                    let weight = (100 / targets.len()).max(1) as u16;
                    let mut piece = Piece::default();
                    for (port, target, ip) in targets {
                        piece.rrs.push(srv(weight, port, target));
                        piece.rrs.push(addr(ip));
                        piece.extra.push((target.clone(), addr(ip)));
                    }
                    out.push((name, piece));
                }
            }
            DnsServiceKind::ExternalName(ext) => {
                let Ok(target) = Name::parse(ext) else {
                    continue;
                };
                out.push((
                    base.clone(),
                    Piece {
                        rrs: vec![name_rec(TYPE_CNAME, &target)],
                        extra: Vec::new(),
                    },
                ));
                for port in svc.ports.iter().filter(|p| !p.name.is_empty()) {
                    if let Some(name) = srv_name(&base, &port.name, &port.protocol) {
                        out.push((
                            name,
                            Piece {
                                rrs: vec![srv(100, port.port, &target)],
                                extra: Vec::new(),
                            },
                        ));
                    }
                }
            }
        }
    }
    out
}

fn srv_name(base: &Name, port: &str, proto: &str) -> Option<Name> {
    base.child(&format!("_{proto}"))
        .and_then(|n| n.child(&format!("_{port}")))
        .ok()
}

/// A PTR at the address's reverse name, when a configured reverse zone covers it.
fn ptr(config: &ZoneConfig, out: &mut Pieces, ip: IpAddr, target: &Name) {
    let rev = reverse_name(ip);
    if config.reverse.iter().any(|z| rev.is_under(z)) {
        out.push((
            rev,
            Piece {
                rrs: vec![name_rec(TYPE_PTR, target)],
                extra: Vec::new(),
            },
        ));
    }
}
