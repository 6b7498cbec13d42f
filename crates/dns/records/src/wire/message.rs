//! A walk over every record of a complete message (an upstream's answer), for the cache:
//! where each TTL sits, which section it is in, where the OPT record is.

use super::name::read_name;
use super::query::skip_rr;
use super::{HEADER_LEN, u16_at, u32_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Answer,
    Authority,
    Additional,
}

/// One record's position and fixed fields.
#[derive(Clone, Copy, Debug)]
pub struct Rr {
    pub section: Section,
    /// Offset of the record (its owner name).
    pub start: usize,
    pub rtype: u16,
    pub ttl: u32,
    /// Offset of the 4-byte TTL.
    pub ttl_at: usize,
    pub rdata_at: usize,
    pub rdlen: u16,
    /// Offset just past the record.
    pub end: usize,
}

/// The question's end and every record, or `None` when the message is malformed (a count
/// that runs past the end, a bad name, more than one question).
pub fn walk(msg: &[u8]) -> Option<(usize, Vec<Rr>)> {
    if msg.len() < HEADER_LEN || u16_at(msg, 4)? > 1 {
        return None;
    }
    let mut pos = HEADER_LEN;
    if u16_at(msg, 4)? == 1 {
        let (_, after) = read_name(msg, pos)?;
        pos = after + 4;
        if pos > msg.len() {
            return None;
        }
    }
    let question_end = pos;
    let mut rrs = Vec::new();
    for (i, section) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .enumerate()
    {
        for _ in 0..u16_at(msg, 6 + 2 * i)? {
            let (_, after) = read_name(msg, pos)?;
            let end = skip_rr(msg, pos)?;
            rrs.push(Rr {
                section,
                start: pos,
                rtype: u16_at(msg, after)?,
                ttl: u32_at(msg, after + 4)?,
                ttl_at: after + 4,
                rdata_at: after + 10,
                rdlen: u16_at(msg, after + 8)?,
                end,
            });
            pos = end;
        }
    }
    Some((question_end, rrs))
}
