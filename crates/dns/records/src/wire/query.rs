//! The query a client sent: header, the one question, EDNS (RFC 6891) from the additional
//! section. Anything that does not parse becomes a [`Reject`] saying how to answer it.

use super::name::{MAX_NAME, NameBuf};
use super::{
    HEADER_LEN, RCODE_BADVERS, RCODE_FORMERR, RCODE_NOTIMP, TYPE_OPT, UDP_MIN, read_name, u16_at,
    u32_at,
};

/// A parsed query; `qname` is lower-cased, `packet` keeps the client's own spelling (echoed
/// back in the question, as resolvers using 0x20 case randomisation expect).
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub packet: &'a [u8],
    pub id: u16,
    pub flags: u16,
    pub qname: NameBuf,
    pub qtype: u16,
    pub qclass: u16,
    /// Offset just past the question.
    pub question_end: usize,
    pub edns: Option<Edns>,
}

/// The client's OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// How to answer a message that is not a usable query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// No reply: too short to carry an ID, or itself a response (answering those loops).
    Drop,
    /// A reply with this (possibly extended) rcode, echoing the question when it was read.
    Error {
        rcode: u16,
        question_end: Option<usize>,
        edns: Option<Edns>,
    },
}

// === impl Query ===

impl Query<'_> {
    /// The largest UDP response this client takes: its EDNS payload size (at least 512, at
    /// most what this server advertises), or 512 without EDNS.
    pub fn udp_limit(&self) -> usize {
        match self.edns {
            Some(e) => (e.payload as usize).clamp(UDP_MIN, super::EDNS_PAYLOAD as usize),
            None => UDP_MIN,
        }
    }

    /// The question as the client wrote it (name, type, class).
    pub fn question(&self) -> &[u8] {
        &self.packet[HEADER_LEN..self.question_end]
    }
}

/// Parses a query. The question name must be uncompressed (nothing precedes it to point
/// at); the answer and authority sections are skipped; one OPT at most.
pub fn parse_query(packet: &[u8]) -> Result<Query<'_>, Reject> {
    if packet.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    if flags & super::FLAG_QR != 0 {
        return Err(Reject::Drop);
    }
    let error = |rcode, question_end, edns| {
        Err(Reject::Error {
            rcode,
            question_end,
            edns,
        })
    };
    if (flags >> 11) & 0xF != 0 {
        return error(RCODE_NOTIMP as u16, None, None);
    }
    let count = |i: usize| u16_at(packet, 4 + 2 * i).unwrap_or(0);
    if count(0) != 1 {
        return error(RCODE_FORMERR as u16, None, None);
    }
    let Some((qname, at)) = read_question_name(packet) else {
        return error(RCODE_FORMERR as u16, None, None);
    };
    let (Some(qtype), Some(qclass)) = (u16_at(packet, at), u16_at(packet, at + 2)) else {
        return error(RCODE_FORMERR as u16, None, None);
    };
    let question_end = at + 4;
    let q = Some(question_end);
    if qtype == TYPE_OPT {
        return error(RCODE_FORMERR as u16, q, None);
    }
    let mut pos = question_end;
    for _ in 0..(count(1) as usize + count(2) as usize) {
        let Some(next) = skip_rr(packet, pos) else {
            return error(RCODE_FORMERR as u16, q, None);
        };
        pos = next;
    }
    let mut edns = None;
    for _ in 0..count(3) {
        let Some((name, after)) = read_name(packet, pos) else {
            return error(RCODE_FORMERR as u16, q, None);
        };
        let Some(next) = skip_rr(packet, pos) else {
            return error(RCODE_FORMERR as u16, q, None);
        };
        if u16_at(packet, after) == Some(TYPE_OPT) {
            if edns.is_some() || name.wire() != [0] {
                return error(RCODE_FORMERR as u16, q, None);
            }
            let payload = u16_at(packet, after + 2).unwrap_or(0);
            let ttl = u32_at(packet, after + 4).unwrap_or(0);
            edns = Some(Edns {
                payload,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
            });
        }
        pos = next;
    }
    if let Some(e) = edns
        && e.version != 0
    {
        return error(RCODE_BADVERS, q, Some(e));
    }
    Ok(Query {
        packet,
        id,
        flags,
        qname,
        qtype,
        qclass,
        question_end,
        edns,
    })
}

/// The question's name, uncompressed, lower-cased; returns it and the offset past it.
fn read_question_name(packet: &[u8]) -> Option<(NameBuf, usize)> {
    let mut pos = HEADER_LEN;
    loop {
        let len = *packet.get(pos)? as usize;
        if len & 0xC0 != 0 {
            return None;
        }
        pos += 1 + len;
        if pos - HEADER_LEN > MAX_NAME {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    packet.get(pos - 1)?;
    let (name, end) = read_name(packet, HEADER_LEN)?;
    (end == pos).then_some((name, pos))
}

/// The offset past the resource record at `at`, or `None` when it runs past the end.
pub(crate) fn skip_rr(msg: &[u8], at: usize) -> Option<usize> {
    let (_, after) = read_name(msg, at)?;
    let rdlen = u16_at(msg, after + 8)? as usize;
    let end = after + 10 + rdlen;
    (end <= msg.len()).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn query(name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
        let mut m = vec![
            0x12,
            0x34,
            0x01,
            0x00,
            0,
            1,
            0,
            0,
            0,
            0,
            0,
            edns.is_some() as u8,
        ];
        for l in name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        if let Some(size) = edns {
            m.extend_from_slice(&[0, 0, 41]);
            m.extend_from_slice(&size.to_be_bytes());
            m.extend_from_slice(&[0, 0, 0x80, 0, 0, 0]);
        }
        m
    }

    #[test]
    fn parses_question_and_edns() {
        let m = query("Web.NS1.svc.cluster.local", 1, Some(4096));
        let q = parse_query(&m).unwrap();
        assert_eq!(q.id, 0x1234);
        assert_eq!(q.qname.to_string(), "web.ns1.svc.cluster.local.");
        assert_eq!(q.qtype, 1);
        assert_eq!(
            q.edns,
            Some(Edns {
                payload: 4096,
                version: 0,
                dnssec_ok: true
            })
        );
        assert_eq!(q.udp_limit(), 1232, "capped at the advertised size");
        assert_eq!(&q.question()[1..4], b"Web", "client's spelling kept");
    }

    #[test]
    fn small_edns_payload_reads_as_512() {
        let m = query("a", 1, Some(100));
        assert_eq!(parse_query(&m).unwrap().udp_limit(), 512);
    }

    #[test]
    fn rejects() {
        assert!(matches!(parse_query(&[0; 5]), Err(Reject::Drop)));
        let mut resp = query("a", 1, None);
        resp[2] |= 0x80;
        assert!(matches!(parse_query(&resp), Err(Reject::Drop)));
        let mut two = query("a", 1, None);
        two[5] = 2;
        assert!(matches!(
            parse_query(&two),
            Err(Reject::Error { rcode: 1, .. })
        ));
        let mut notify = query("a", 1, None);
        notify[2] = 4 << 3;
        assert!(matches!(
            parse_query(&notify),
            Err(Reject::Error { rcode: 4, .. })
        ));
        let mut v1 = query("a", 1, Some(1232));
        let n = v1.len();
        v1[n - 5] = 1; // EDNS version 1
        assert!(matches!(
            parse_query(&v1),
            Err(Reject::Error { rcode: 16, .. })
        ));
        // A compressed question name is refused.
        let mut ptr = query("a", 1, None);
        ptr.truncate(12);
        ptr.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert!(matches!(
            parse_query(&ptr),
            Err(Reject::Error {
                rcode: 1,
                question_end: None,
                ..
            })
        ));
    }
}
