//! Ethernet + ARP (RFC 826) frames for IPv4 over Ethernet, pure: parse a request, build a
//! reply or a gratuitous announcement (RFC 5227 §3: a request whose sender and target
//! addresses are both the announced one, broadcast).

use std::net::Ipv4Addr;

/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const HTYPE_ETHERNET: u16 = 1;
const OP_REQUEST: u16 = 1;
const OP_REPLY: u16 = 2;
/// Ethernet header (14) + ARP for IPv4 (28).
pub const FRAME_LEN: usize = 42;
pub const BROADCAST: Mac = Mac([0xff; 6]);

/// A link-layer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

/// The fields of an ARP packet that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub op: Op,
    pub sender_mac: Mac,
    pub sender_ip: Ipv4Addr,
    pub target_mac: Mac,
    pub target_ip: Ipv4Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Request,
    Reply,
}

// === impl Mac ===

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

// === impl Arp ===

impl Arp {
    /// An Ethernet frame carrying ARP for IPv4, or None (anything else, or truncated).
    pub fn parse(frame: &[u8]) -> Option<Arp> {
        if frame.len() < FRAME_LEN || be16(frame, 12) != ETH_P_ARP {
            return None;
        }
        let arp = &frame[14..];
        let well_formed = be16(arp, 0) == HTYPE_ETHERNET
            && be16(arp, 2) == ETH_P_IP
            && arp[4] == 6
            && arp[5] == 4;
        if !well_formed {
            return None;
        }
        let op = match be16(arp, 6) {
            OP_REQUEST => Op::Request,
            OP_REPLY => Op::Reply,
            _ => return None,
        };
        Some(Arp {
            op,
            sender_mac: mac(&arp[8..14]),
            sender_ip: ip(&arp[14..18]),
            target_mac: mac(&arp[18..24]),
            target_ip: ip(&arp[24..28]),
        })
    }

    /// The answer to this request from `mac`: "`target_ip` is at `mac`", sent to the asker.
    pub fn reply_from(&self, mac: Mac) -> Arp {
        Arp {
            op: Op::Reply,
            sender_mac: mac,
            sender_ip: self.target_ip,
            target_mac: self.sender_mac,
            target_ip: self.sender_ip,
        }
    }

    /// A gratuitous announcement that `ip` is at `mac` (RFC 5227's ARP Announcement).
    pub fn announcement(ip: Ipv4Addr, mac: Mac) -> Arp {
        Arp {
            op: Op::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: Mac([0; 6]),
            target_ip: ip,
        }
    }

    /// Whether this is a request a responder should consider (not a probe or announcement of
    /// someone's own address).
    pub fn is_request_for_other(&self) -> bool {
        self.op == Op::Request && self.sender_ip != self.target_ip
    }

    /// The frame: to the asker for a reply, broadcast for a request.
    pub fn to_frame(&self) -> [u8; FRAME_LEN] {
        let dst = match self.op {
            Op::Request => BROADCAST,
            Op::Reply => self.target_mac,
        };
        let mut f = [0u8; FRAME_LEN];
        f[0..6].copy_from_slice(&dst.0);
        f[6..12].copy_from_slice(&self.sender_mac.0);
        f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
        f[14..16].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
        f[18] = 6;
        f[19] = 4;
        let op = match self.op {
            Op::Request => OP_REQUEST,
            Op::Reply => OP_REPLY,
        };
        f[20..22].copy_from_slice(&op.to_be_bytes());
        f[22..28].copy_from_slice(&self.sender_mac.0);
        f[28..32].copy_from_slice(&self.sender_ip.octets());
        f[32..38].copy_from_slice(&self.target_mac.0);
        f[38..42].copy_from_slice(&self.target_ip.octets());
        f
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn mac(b: &[u8]) -> Mac {
    Mac(b.try_into().expect("6 bytes"))
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASKER: Mac = Mac([2, 0, 0, 0, 0, 1]);
    const US: Mac = Mac([2, 0, 0, 0, 0, 2]);

    fn request() -> Arp {
        Arp {
            op: Op::Request,
            sender_mac: ASKER,
            sender_ip: Ipv4Addr::new(172, 18, 0, 1),
            target_mac: Mac([0; 6]),
            target_ip: Ipv4Addr::new(172, 18, 255, 200),
        }
    }

    #[test]
    fn a_request_survives_the_wire_both_ways() {
        let frame = request().to_frame();
        assert_eq!(&frame[0..6], &[0xff; 6], "requests are broadcast");
        assert_eq!(Arp::parse(&frame), Some(request()));
        assert!(request().is_request_for_other());
    }

    #[test]
    fn the_reply_tells_the_asker_where_the_target_is() {
        let reply = request().reply_from(US);
        let frame = reply.to_frame();
        assert_eq!(&frame[0..6], &ASKER.0, "replies go to the asker");
        assert_eq!(&frame[6..12], &US.0);
        let parsed = Arp::parse(&frame).unwrap();
        assert_eq!(parsed.op, Op::Reply);
        assert_eq!(parsed.sender_ip, Ipv4Addr::new(172, 18, 255, 200));
        assert_eq!(parsed.sender_mac, US);
        assert_eq!(parsed.target_ip, Ipv4Addr::new(172, 18, 0, 1));
    }

    #[test]
    fn an_announcement_is_a_broadcast_request_for_its_own_address() {
        let ip = Ipv4Addr::new(172, 18, 255, 201);
        let a = Arp::parse(&Arp::announcement(ip, US).to_frame()).unwrap();
        assert_eq!(
            (a.op, a.sender_ip, a.target_ip, a.sender_mac),
            (Op::Request, ip, ip, US)
        );
        assert!(!a.is_request_for_other(), "nobody answers an announcement");
    }

    #[test]
    fn other_frames_are_not_arp() {
        let mut frame = request().to_frame();
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        assert_eq!(Arp::parse(&frame), None);
        assert_eq!(Arp::parse(&request().to_frame()[..30]), None);
        let mut ipv6ish = request().to_frame();
        ipv6ish[19] = 16;
        assert_eq!(Arp::parse(&ipv6ish), None);
    }

    #[test]
    fn macs_print_as_ip_link_does() {
        assert_eq!(US.to_string(), "02:00:00:00:00:02");
    }
}
