//! Garbage DNS messages from a fixed-seed generator, shared by the message-path fuzz test
//! of podnet-dns-records and the socket-level one in the root package's `tests/dns_fuzz.rs`.

use crate::Rng;

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut m = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns as u8];
    for l in name.split('.').filter(|l| !l.is_empty()) {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    if edns {
        m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0]);
    }
    m
}

const NAMES: &[&str] = &[
    "web.ns1.svc.cluster.local",
    "_http._tcp.web.ns1.svc.cluster.local",
    "big.ns1.svc.cluster.local",
    "h0.big.ns1.svc.cluster.local",
    "ns1.svc.cluster.local",
    "1-2-3-4.ns1.pod.cluster.local",
    "example.com.ns1.svc.cluster.local",
    "20.0.96.10.in-addr.arpa",
    "cluster.local",
    "example.com",
    "ext.ns1.svc.cluster.local",
];

/// One message of a random kind.
pub fn message(rng: &mut Rng) -> Vec<u8> {
    let name = NAMES[rng.below(NAMES.len())];
    let qtype = [
        1,
        28,
        33,
        12,
        5,
        16,
        6,
        2,
        255,
        252,
        41,
        rng.below(65536) as u16,
    ][rng.below(12)];
    let mut m = query(name, qtype, rng.below(2) == 0);
    match rng.below(8) {
        0 => {
            let len = rng.below(600);
            m = (0..len).map(|_| rng.next_u64() as u8).collect();
        }
        1 => {
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
        }
        2 => m.truncate(rng.below(m.len() + 1)),
        3 => {
            // A question whose name points at itself, or forwards, or into the header.
            m.truncate(12);
            let target = [12u8, 13, 0, 200][rng.below(4)];
            m.extend_from_slice(&[0xC0, target, 0, 1, 0, 1]);
        }
        4 => {
            let len = 4000 + rng.below(6000);
            m.extend((0..len).map(|_| rng.next_u64() as u8));
        }
        5 => {
            m[4..12].fill(0xFF);
        }
        6 => {
            // Additional records that lie about their length, or loop through pointers.
            m[11] = 1 + rng.below(3) as u8;
            m.extend_from_slice(&[0xC0, 12, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
        }
        _ => {
            // Long chains of one-byte labels.
            m.truncate(12);
            for _ in 0..rng.below(200) {
                m.extend_from_slice(&[1, b'a']);
            }
            m.extend_from_slice(&[0, 0, 1, 0, 1]);
        }
    }
    m
}
