//! Answering a query from a snapshot: one hash lookup for every name the index holds, a walk
//! up to the zone only for names it does not (NXDOMAIN with the zone's SOA, `pods insecure`,
//! or not ours at all).

use std::net::IpAddr;

use crate::config::PodMode;
use crate::records::addr;
use crate::snapshot::{Node, Snapshot, ZoneInfo};
use crate::wire::{
    CLASS_ANY, CLASS_IN, FLAG_AA, Name, Query, RCODE_NOERROR, RCODE_NXDOMAIN, RCODE_REFUSED,
    Response, TYPE_ANY, TYPE_AXFR, TYPE_CNAME, TYPE_IXFR,
};

/// What [`answer`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response is in the buffer.
    Answered { rcode: u8, truncated: bool },
    /// Not the cluster's to answer (outside its zones, or a miss in a zone that falls
    /// through): forward it.
    NotOurs,
    /// An alias (ExternalName) to a name outside the cluster zones: answer with `cname_rr`
    /// followed by the target's records, resolved upstream.
    Chase { target: Name, cname_rr: Box<[u8]> },
}

/// Answers `q` into `out` when the cluster zones hold it; `limit` is the largest response
/// the transport takes (see [`Query::udp_limit`]).
pub fn answer(snap: &Snapshot, q: &Query<'_>, limit: usize, out: &mut Vec<u8>) -> Outcome {
    let name = q.qname.wire();
    let node = snap.lookup(name);
    let zone = match node {
        Some(_) => None,
        None => match snap.zone_of(name) {
            Some(z) => Some(z),
            None => return Outcome::NotOurs,
        },
    };
    if q.qclass != CLASS_IN && q.qclass != CLASS_ANY {
        return finish(Response::begin(out, q, 0, RCODE_REFUSED), limit);
    }
    if matches!(q.qtype, TYPE_AXFR | TYPE_IXFR) {
        return finish(Response::begin(out, q, 0, RCODE_REFUSED), limit);
    }
    match node {
        Some(node) => answer_node(snap, node, q, limit, out),
        None => {
            let zone = zone.expect("zone found above");
            if !zone.reverse
                && snap.config.pods == PodMode::Insecure
                && let Some(ip) = insecure_pod(snap, zone, name)
            {
                let mut r = Response::begin(out, q, FLAG_AA, RCODE_NOERROR);
                let rec = addr(ip);
                if rec.rtype == q.qtype || q.qtype == TYPE_ANY {
                    let b = r.buf();
                    b.extend_from_slice(&[0xC0, 0x0C]);
                    b.extend_from_slice(&rec.rtype.to_be_bytes());
                    b.extend_from_slice(&CLASS_IN.to_be_bytes());
                    b.extend_from_slice(&snap.config.ttl.to_be_bytes());
                    b.extend_from_slice(&(rec.rdata.len() as u16).to_be_bytes());
                    b.extend_from_slice(&rec.rdata);
                    r.count(0, 1);
                } else {
                    soa(&mut r, zone, name.len());
                }
                return finish(r, limit);
            }
            if zone.fallthrough {
                return Outcome::NotOurs;
            }
            let mut r = Response::begin(out, q, FLAG_AA, RCODE_NXDOMAIN);
            soa(&mut r, zone, name.len());
            finish(r, limit)
        }
    }
}

fn answer_node(
    snap: &Snapshot,
    node: &Node,
    q: &Query<'_>,
    limit: usize,
    out: &mut Vec<u8>,
) -> Outcome {
    let mut r = Response::begin(out, q, FLAG_AA, RCODE_NOERROR);
    if let Some(set) = node.set(q.qtype) {
        r.push(0, &set.rrs, set.count);
        r.push(2, &set.extra, set.extra_count);
        return finish(r, limit);
    }
    if q.qtype == TYPE_ANY && !node.sets.is_empty() {
        for set in node.sets.iter() {
            r.push(0, &set.rrs, set.count);
        }
        return finish(r, limit);
    }
    if let (Some(target), Some(cname)) = (&node.cname, node.set(TYPE_CNAME)) {
        match snap.zone_of(target.wire()) {
            None => {
                return Outcome::Chase {
                    target: target.clone(),
                    cname_rr: cname.rrs.clone(),
                };
            }
            Some(_) => {
                // An alias inside the cluster zones: follow it once, from the index.
                r.push(0, &cname.rrs, cname.count);
                if let Some(set) = snap.lookup(target.wire()).and_then(|n| n.set(q.qtype)) {
                    let n = rewrite_owner(r.buf(), &set.rrs, target.wire());
                    r.count(0, n);
                }
                return finish(r, limit);
            }
        }
    }
    // The name exists without records of this type: NODATA, with the SOA.
    if let Some(zone) = snap.zone_of(q.qname.wire()) {
        soa(&mut r, zone, q.qname.wire().len());
    }
    finish(r, limit)
}

fn finish(r: Response<'_>, limit: usize) -> Outcome {
    let rcode = r.rcode();
    let truncated = r.finish(limit);
    Outcome::Answered { rcode, truncated }
}

/// The zone's SOA in the authority section, its owner a pointer to the zone's apex inside
/// the question's name.
fn soa(r: &mut Response<'_>, zone: &ZoneInfo, qname_len: usize) {
    let at = 12 + qname_len - zone.apex.len();
    let ptr = 0xC000u16 | at as u16;
    let b = r.buf();
    b.extend_from_slice(&ptr.to_be_bytes());
    b.extend_from_slice(&zone.soa_tail);
    r.count(1, 1);
}

/// Copies prepared records (owner `0xC00C`) with `owner` written out in full instead.
fn rewrite_owner(out: &mut Vec<u8>, rrs: &[u8], owner: &[u8]) -> u16 {
    let mut at = 0;
    let mut n = 0;
    while at + 12 <= rrs.len() {
        let rdlen = u16::from_be_bytes([rrs[at + 10], rrs[at + 11]]) as usize;
        let end = at + 12 + rdlen;
        out.extend_from_slice(owner);
        out.extend_from_slice(&rrs[at + 2..end]);
        at = end;
        n += 1;
    }
    n
}

/// `pods insecure`: `<a-b-c-d>.<ns>.pod.<zone>` where `<ns>.pod.<zone>` exists (the
/// namespace does) and the label reads as an address (CoreDNS: three dashes and no `--`
/// is IPv4, anything else is IPv6 with `-` for `:`).
fn insecure_pod(snap: &Snapshot, zone: &ZoneInfo, name: &[u8]) -> Option<IpAddr> {
    let l = name[0] as usize;
    let label = std::str::from_utf8(name.get(1..1 + l)?).ok()?;
    let rest = name.get(1 + l..)?;
    let m = *rest.first()? as usize;
    let after = rest.get(1 + m..)?;
    if after.len() != zone.apex.len() + 4 || &after[..4] != b"\x03pod" {
        return None;
    }
    snap.lookup(rest)?;
    if label.matches('-').count() == 3 && !label.contains("--") {
        label.replace('-', ".").parse().ok().map(IpAddr::V4)
    } else {
        label.replace('-', ":").parse().ok().map(IpAddr::V6)
    }
}
