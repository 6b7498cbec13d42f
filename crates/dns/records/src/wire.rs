//! The DNS wire format, as far as the answer path needs it (RFC 1035 §4, RFC 6891 for EDNS):
//! names, the query a client sends, the response written back, and a walk over a complete
//! message's records (for relaying and caching upstream answers).
//!
//! Parsing never trusts a length or a pointer: every read is bounds-checked and compression
//! pointers may only point backwards, so a loop cannot form.

mod message;
mod name;
mod query;
mod response;

pub use message::{Rr, Section, walk};
pub use name::is_under;
pub use name::{MAX_NAME, Name, NameBuf, read_name};
pub use query::{Edns, Query, Reject, parse_query};
pub use response::{Response, write_rejection};

pub const HEADER_LEN: usize = 12;

pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_SRV: u16 = 33;
pub const TYPE_OPT: u16 = 41;
pub const TYPE_IXFR: u16 = 251;
pub const TYPE_AXFR: u16 = 252;
pub const TYPE_ANY: u16 = 255;

pub const CLASS_IN: u16 = 1;
pub const CLASS_ANY: u16 = 255;

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_NOTIMP: u8 = 4;
pub const RCODE_REFUSED: u8 = 5;
/// Extended (EDNS) rcode 16: the client's EDNS version is not supported.
pub const RCODE_BADVERS: u16 = 16;

/// The UDP payload size this server advertises and honours at most (the 2020 DNS flag day
/// value: no fragmentation on any common path).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Classic DNS over UDP without EDNS.
pub const UDP_MIN: usize = 512;

// Header flag bits (the 16-bit word at offset 2).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_CD: u16 = 0x0010;

pub(crate) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A readable type name for logs and metrics (CoreDNS's `type` label keeps the common ones
/// and calls the rest "other").
pub fn type_name(t: u16) -> &'static str {
    match t {
        TYPE_A => "A",
        TYPE_NS => "NS",
        TYPE_CNAME => "CNAME",
        TYPE_SOA => "SOA",
        TYPE_PTR => "PTR",
        TYPE_TXT => "TXT",
        TYPE_AAAA => "AAAA",
        TYPE_SRV => "SRV",
        15 => "MX",
        TYPE_IXFR => "IXFR",
        TYPE_AXFR => "AXFR",
        TYPE_ANY => "ANY",
        _ => "other",
    }
}

pub fn rcode_name(r: u16) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        16 => "BADVERS",
        _ => "other",
    }
}
