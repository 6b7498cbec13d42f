//! BGP-4 messages on the wire, as far as a speaker that only announces IPv4 unicast needs
//! them (RFC 4271 §4): OPEN with the multiprotocol (RFC 4760) and 4-octet AS (RFC 6793)
//! capabilities (RFC 5492), KEEPALIVE, UPDATE with ORIGIN, AS_PATH, NEXT_HOP (and
//! LOCAL_PREF towards an iBGP peer), NOTIFICATION. I/O-free: bytes in, bytes out.

use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Marker (16), length (2), type (1).
pub const HEADER_LEN: usize = 19;
/// RFC 4271 §4: the largest message a speaker may send (without RFC 8654's extension).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// RFC 6793 §9: what a 2-octet AS field carries for an AS above 65535.
pub const AS_TRANS: u16 = 23456;

const OPEN: u8 = 1;
const UPDATE: u8 = 2;
const NOTIFICATION: u8 = 3;
const KEEPALIVE: u8 = 4;
const ROUTE_REFRESH: u8 = 5;

/// Optional parameter 2: capabilities (RFC 5492).
const PARAM_CAPABILITIES: u8 = 2;
const CAP_MULTIPROTOCOL: u8 = 1;
const CAP_FOUR_OCTET_AS: u8 = 65;

/// Path attribute flags: well-known transitive.
const WELL_KNOWN: u8 = 0x40;
const ATTR_ORIGIN: u8 = 1;
const ATTR_AS_PATH: u8 = 2;
const ATTR_NEXT_HOP: u8 = 3;
const ATTR_LOCAL_PREF: u8 = 5;
const ORIGIN_IGP: u8 = 0;
const AS_SEQUENCE: u8 = 2;
/// The LOCAL_PREF an iBGP UPDATE carries (the common default).
const DEFAULT_LOCAL_PREF: u32 = 100;

/// /32s per UPDATE: 5 bytes each, so a message stays under [`MAX_MESSAGE_LEN`] with its
/// header and attributes.
const PREFIXES_PER_UPDATE: usize = 700;

/// A message as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    /// Its content is not used: this speaker installs nothing.
    Update,
    Notification(Notification),
    Keepalive,
    RouteRefresh,
}

/// An OPEN message, with the capabilities this speaker knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    /// The sender's AS: from the 4-octet AS capability when present, else My AS.
    pub asn: u32,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    pub four_octet_as: bool,
}

/// A NOTIFICATION's error code and subcode (RFC 4271 §4.5, §6; RFC 4486 for Cease).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
}

/// What an UPDATE's path attributes say about the routes it announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Path {
    pub local_asn: u32,
    pub peer_asn: u32,
    pub next_hop: Ipv4Addr,
    /// Negotiated: both OPENs carried the 4-octet AS capability.
    pub four_octet_as: bool,
}

/// Why received bytes are not a valid message, and the NOTIFICATION that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub reason: String,
    pub notification: Notification,
}

/// A message's type and body length, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    pub body_len: usize,
}

// === impl Header ===

impl Header {
    /// RFC 4271 §6.1: the marker is all ones; the length is 19–4096 and at least what the
    /// type needs; the type is known.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, Malformed> {
        if bytes[..16].iter().any(|b| *b != 0xff) {
            return Err(Malformed::new(
                "the marker is not all ones",
                Notification::CONNECTION_NOT_SYNCHRONIZED,
            ));
        }
        let len = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let kind = bytes[18];
        let min = match kind {
            OPEN => 29,
            UPDATE => 23,
            NOTIFICATION => 21,
            KEEPALIVE | ROUTE_REFRESH => 19,
            other => {
                return Err(Malformed::new(
                    format!("unknown message type {other}"),
                    Notification::BAD_MESSAGE_TYPE,
                ));
            }
        };
        let fixed_len_ok = kind != KEEPALIVE || len == HEADER_LEN;
        if len < min || len > MAX_MESSAGE_LEN || !fixed_len_ok {
            return Err(Malformed::new(
                format!("length {len} for message type {kind}"),
                Notification::BAD_MESSAGE_LENGTH,
            ));
        }
        Ok(Header {
            kind,
            body_len: len - HEADER_LEN,
        })
    }
}

/// Decodes a message's body, given its header.
pub fn decode(header: Header, body: &[u8]) -> Result<Message, Malformed> {
    match header.kind {
        OPEN => Open::decode(body).map(Message::Open),
        UPDATE => Ok(Message::Update),
        NOTIFICATION => Ok(Message::Notification(Notification {
            code: body[0],
            subcode: body[1],
        })),
        KEEPALIVE => Ok(Message::Keepalive),
        _ => Ok(Message::RouteRefresh),
    }
}

/// A KEEPALIVE: the header alone (RFC 4271 §4.4).
pub fn keepalive() -> Vec<u8> {
    frame(KEEPALIVE, &[])
}

/// The UPDATEs that withdraw `withdraw` and announce `announce` with `path`: withdrawals
/// first, each message within [`MAX_MESSAGE_LEN`].
pub fn updates(announce: &[Ipv4Net], withdraw: &[Ipv4Net], path: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for chunk in withdraw.chunks(PREFIXES_PER_UPDATE) {
        let mut body = Vec::new();
        let routes = prefixes(chunk);
        body.extend((routes.len() as u16).to_be_bytes());
        body.extend(routes);
        body.extend(0u16.to_be_bytes());
        out.push(frame(UPDATE, &body));
    }
    let attrs = path.attributes();
    for chunk in announce.chunks(PREFIXES_PER_UPDATE) {
        let mut body = Vec::new();
        body.extend(0u16.to_be_bytes());
        body.extend((attrs.len() as u16).to_be_bytes());
        body.extend(&attrs);
        body.extend(prefixes(chunk));
        out.push(frame(UPDATE, &body));
    }
    out
}

/// RFC 4271 §4.3: each prefix as its length in bits and the fewest octets that hold it.
fn prefixes(nets: &[Ipv4Net]) -> Vec<u8> {
    let mut out = Vec::new();
    for net in nets {
        let len = net.prefix_len();
        out.push(len);
        out.extend(&net.network().octets()[..usize::from(len).div_ceil(8)]);
    }
    out
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + body.len();
    debug_assert!(len <= MAX_MESSAGE_LEN);
    let mut out = Vec::with_capacity(len);
    out.extend([0xff; 16]);
    out.extend((len as u16).to_be_bytes());
    out.push(kind);
    out.extend(body);
    out
}

// === impl Open ===

impl Open {
    /// Version 4, My AS (AS_TRANS above 65535), hold time, identifier, and one capabilities
    /// parameter: IPv4 unicast (AFI 1, SAFI 1) and 4-octet AS.
    pub fn encode(&self) -> Vec<u8> {
        let my_as = u16::try_from(self.asn).unwrap_or(AS_TRANS);
        let mut caps = vec![CAP_MULTIPROTOCOL, 4, 0, 1, 0, 1];
        caps.extend([CAP_FOUR_OCTET_AS, 4]);
        caps.extend(self.asn.to_be_bytes());
        let mut body = vec![4];
        body.extend(my_as.to_be_bytes());
        body.extend(self.hold_time.to_be_bytes());
        body.extend(self.router_id.octets());
        body.push(caps.len() as u8 + 2);
        body.extend([PARAM_CAPABILITIES, caps.len() as u8]);
        body.extend(caps);
        frame(OPEN, &body)
    }

    /// RFC 4271 §6.2's checks that do not depend on the session (version, hold time,
    /// identifier, parameter lengths); unknown parameters and capabilities are skipped.
    pub fn decode(body: &[u8]) -> Result<Self, Malformed> {
        let bad_len = || {
            Malformed::new(
                "OPEN shorter than it says",
                Notification::BAD_MESSAGE_LENGTH,
            )
        };
        if body.len() < 10 {
            return Err(bad_len());
        }
        if body[0] != 4 {
            return Err(Malformed::new(
                format!("BGP version {}", body[0]),
                Notification::UNSUPPORTED_VERSION,
            ));
        }
        let my_as = u16::from_be_bytes([body[1], body[2]]);
        let hold_time = u16::from_be_bytes([body[3], body[4]]);
        if hold_time == 1 || hold_time == 2 {
            return Err(Malformed::new(
                format!("hold time {hold_time} s"),
                Notification::UNACCEPTABLE_HOLD_TIME,
            ));
        }
        let router_id = Ipv4Addr::new(body[5], body[6], body[7], body[8]);
        if router_id.is_unspecified() {
            return Err(Malformed::new(
                "BGP identifier 0.0.0.0",
                Notification::BAD_BGP_IDENTIFIER,
            ));
        }
        let params = body
            .get(10..10 + usize::from(body[9]))
            .ok_or_else(bad_len)?;
        let mut open = Open {
            asn: u32::from(my_as),
            hold_time,
            router_id,
            four_octet_as: false,
        };
        let mut rest = params;
        while let [kind, len, tail @ ..] = rest {
            let value = tail.get(..usize::from(*len)).ok_or_else(bad_len)?;
            if *kind == PARAM_CAPABILITIES {
                open.capabilities(value).ok_or_else(bad_len)?;
            }
            rest = &tail[usize::from(*len)..];
        }
        Ok(open)
    }

    fn capabilities(&mut self, mut caps: &[u8]) -> Option<()> {
        while let [code, len, tail @ ..] = caps {
            let value = tail.get(..usize::from(*len))?;
            if *code == CAP_FOUR_OCTET_AS && value.len() == 4 {
                self.asn = u32::from_be_bytes(value.try_into().ok()?);
                self.four_octet_as = true;
            }
            caps = &tail[usize::from(*len)..];
        }
        Some(())
    }
}

// === impl Path ===

impl Path {
    /// ORIGIN IGP; AS_PATH of our AS towards an eBGP peer (empty towards an iBGP one, which
    /// gets LOCAL_PREF instead); NEXT_HOP.
    fn attributes(&self) -> Vec<u8> {
        let mut out = vec![WELL_KNOWN, ATTR_ORIGIN, 1, ORIGIN_IGP];
        if self.local_asn == self.peer_asn {
            out.extend([WELL_KNOWN, ATTR_AS_PATH, 0]);
        } else {
            let asn: Vec<u8> = if self.four_octet_as {
                self.local_asn.to_be_bytes().to_vec()
            } else {
                u16::try_from(self.local_asn)
                    .unwrap_or(AS_TRANS)
                    .to_be_bytes()
                    .to_vec()
            };
            out.extend([
                WELL_KNOWN,
                ATTR_AS_PATH,
                2 + asn.len() as u8,
                AS_SEQUENCE,
                1,
            ]);
            out.extend(asn);
        }
        out.extend([WELL_KNOWN, ATTR_NEXT_HOP, 4]);
        out.extend(self.next_hop.octets());
        if self.local_asn == self.peer_asn {
            out.extend([WELL_KNOWN, ATTR_LOCAL_PREF, 4]);
            out.extend(DEFAULT_LOCAL_PREF.to_be_bytes());
        }
        out
    }
}

// === impl Notification ===

impl Notification {
    pub const CONNECTION_NOT_SYNCHRONIZED: Self = Self::new(1, 1);
    pub const BAD_MESSAGE_LENGTH: Self = Self::new(1, 2);
    pub const BAD_MESSAGE_TYPE: Self = Self::new(1, 3);
    pub const UNSUPPORTED_VERSION: Self = Self::new(2, 1);
    pub const BAD_PEER_AS: Self = Self::new(2, 2);
    pub const BAD_BGP_IDENTIFIER: Self = Self::new(2, 3);
    pub const UNACCEPTABLE_HOLD_TIME: Self = Self::new(2, 6);
    pub const HOLD_TIMER_EXPIRED: Self = Self::new(4, 0);
    pub const FSM_ERROR: Self = Self::new(5, 0);
    /// Cease, Administrative Shutdown (RFC 4486): the speaker is going away on purpose.
    pub const ADMINISTRATIVE_SHUTDOWN: Self = Self::new(6, 2);

    pub const fn new(code: u8, subcode: u8) -> Self {
        Notification { code, subcode }
    }

    pub fn encode(&self) -> Vec<u8> {
        frame(NOTIFICATION, &[self.code, self.subcode])
    }
}

impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.code {
            1 => "Message Header Error",
            2 => "OPEN Message Error",
            3 => "UPDATE Message Error",
            4 => "Hold Timer Expired",
            5 => "Finite State Machine Error",
            6 => "Cease",
            _ => "unknown error",
        };
        write!(f, "{what} ({}/{})", self.code, self.subcode)
    }
}

// === impl Malformed ===

impl Malformed {
    fn new(reason: impl Into<String>, notification: Notification) -> Self {
        Malformed {
            reason: reason.into(),
            notification,
        }
    }
}

#[cfg(test)]
mod tests;
