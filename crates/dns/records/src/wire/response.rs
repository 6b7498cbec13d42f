//! Writing a response: the header and the client's question first, sections appended as
//! prepared bytes, then EDNS and the size check that sets TC (RFC 1035 §4.2.1, RFC 6891 §7).

use super::query::{Edns, Query, Reject};
use super::{EDNS_PAYLOAD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, HEADER_LEN, TYPE_OPT};

/// A response being written into `out` (which it clears first).
pub struct Response<'o> {
    out: &'o mut Vec<u8>,
    counts: [u16; 3],
    question_end: usize,
    edns: Option<Edns>,
}

impl<'o> Response<'o> {
    /// Header (the query's ID, opcode, RD and CD; QR and RA set; `flags` added) and the
    /// question as the client spelled it.
    pub fn begin(out: &'o mut Vec<u8>, q: &Query<'_>, flags: u16, rcode: u8) -> Self {
        out.clear();
        out.extend_from_slice(&q.id.to_be_bytes());
        let f = FLAG_QR | FLAG_RA | (q.flags & (FLAG_RD | FLAG_CD)) | flags | rcode as u16;
        out.extend_from_slice(&f.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(q.question());
        Response {
            out,
            counts: [0; 3],
            question_end: q.question_end,
            edns: q.edns,
        }
    }

    /// Continues a response already in `out` (a cached message whose question is the same
    /// name, type and class as `q`'s): the client's ID, RD/CD and spelling of the question
    /// are written over it; `counts` are its answer, authority and additional counts.
    pub fn resume(out: &'o mut Vec<u8>, q: &Query<'_>, counts: [u16; 3]) -> Self {
        out[..2].copy_from_slice(&q.id.to_be_bytes());
        let flags = u16::from_be_bytes([out[2], out[3]]);
        let f =
            (flags & !(FLAG_RD | FLAG_CD | FLAG_TC)) | FLAG_QR | (q.flags & (FLAG_RD | FLAG_CD));
        out[2..4].copy_from_slice(&f.to_be_bytes());
        out[HEADER_LEN..q.question_end].copy_from_slice(q.question());
        Response {
            out,
            counts,
            question_end: q.question_end,
            edns: q.edns,
        }
    }

    pub fn set_rcode(&mut self, rcode: u8) {
        self.out[3] = (self.out[3] & 0xF0) | (rcode & 0x0F);
    }

    pub fn rcode(&self) -> u8 {
        self.out[3] & 0x0F
    }

    /// Appends prepared records to a section (0 answer, 1 authority, 2 additional).
    pub fn push(&mut self, section: usize, rrs: &[u8], count: u16) {
        self.out.extend_from_slice(rrs);
        self.counts[section] += count;
    }

    /// The buffer, for records written in place; count them with [`Response::count`].
    pub fn buf(&mut self) -> &mut Vec<u8> {
        self.out
    }

    pub fn count(&mut self, section: usize, n: u16) {
        self.counts[section] += n;
    }

    /// Length so far (without the OPT record `finish` adds).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether only the question has been written.
    pub fn is_empty(&self) -> bool {
        self.out.len() == self.question_end
    }

    /// Counts, OPT (when the client sent one), and truncation: when the message does not fit
    /// in `limit`, every section is dropped and TC set, so the client retries over TCP.
    /// Returns whether it was truncated.
    pub fn finish(self, limit: usize) -> bool {
        let opt_len = if self.edns.is_some() { 11 } else { 0 };
        let mut counts = self.counts;
        let truncated = self.out.len() + opt_len > limit;
        if truncated {
            self.out.truncate(self.question_end);
            counts = [0; 3];
            self.out[2] |= (FLAG_TC >> 8) as u8;
        }
        if let Some(edns) = self.edns {
            write_opt(self.out, edns, 0);
            counts[2] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            self.out[6 + 2 * i..8 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        truncated
    }
}

fn write_opt(out: &mut Vec<u8>, client: Edns, ext_rcode: u8) {
    out.extend_from_slice(&[0]);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    let do_bit = if client.dnssec_ok { 0x80 } else { 0 };
    out.extend_from_slice(&[ext_rcode, 0, do_bit, 0, 0, 0]);
}

/// The reply to a rejected message (FORMERR, NOTIMP, BADVERS …): the ID, opcode and RD of
/// the original, its question when it could be read, and OPT when BADVERS is the answer.
/// Writes nothing for [`Reject::Drop`].
pub fn write_rejection(out: &mut Vec<u8>, packet: &[u8], reject: Reject) {
    out.clear();
    let Reject::Error {
        rcode,
        question_end,
        edns,
    } = reject
    else {
        return;
    };
    out.extend_from_slice(&packet[..2]);
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    let f = FLAG_QR | FLAG_RA | (flags & (0x7800 | FLAG_RD | FLAG_CD)) | (rcode & 0x0F);
    out.extend_from_slice(&f.to_be_bytes());
    let qd = question_end.is_some() as u16;
    out.extend_from_slice(&qd.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    if let Some(end) = question_end {
        out.extend_from_slice(&packet[HEADER_LEN..end]);
    }
    if let Some(e) = edns {
        write_opt(out, e, (rcode >> 4) as u8);
        out[11] = 1;
    }
}
