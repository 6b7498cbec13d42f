//! Messages against bytes written out by hand from the RFCs' layouts.

use super::*;

const MARKER: [u8; 16] = [0xff; 16];

fn with_header(len: u16, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MARKER.to_vec();
    out.extend(len.to_be_bytes());
    out.push(kind);
    out.extend(body);
    out
}

fn header(bytes: &[u8]) -> Result<Header, Malformed> {
    Header::decode(bytes[..HEADER_LEN].try_into().unwrap())
}

#[test]
fn rfc4271_s4_4_keepalive_is_the_header_alone() {
    assert_eq!(keepalive(), with_header(19, 4, &[]));
}

#[test]
fn rfc4271_s4_2_open_with_rfc5492_capabilities() {
    let open = Open {
        asn: 64513,
        hold_time: 3,
        router_id: Ipv4Addr::new(172, 18, 0, 2),
        four_octet_as: true,
    };
    let body = [
        4, 0xfc, 0x01, 0, 3, 172, 18, 0, 2, // version, My AS, hold time, identifier
        14, 2, 12, // one capabilities parameter
        1, 4, 0, 1, 0, 1, // multiprotocol: AFI 1 (IPv4), SAFI 1 (unicast)
        65, 4, 0, 0, 0xfc, 0x01, // 4-octet AS
    ];
    assert_eq!(open.encode(), with_header(43, 1, &body));
    assert_eq!(Open::decode(&body).unwrap(), open);
}

#[test]
fn rfc6793_s4_1_a_four_octet_as_sends_as_trans_in_my_as() {
    let open = Open {
        asn: 4_200_000_000,
        hold_time: 90,
        router_id: Ipv4Addr::new(10, 0, 0, 1),
        four_octet_as: true,
    };
    let bytes = open.encode();
    assert_eq!(&bytes[20..22], &AS_TRANS.to_be_bytes());
    assert_eq!(&bytes[bytes.len() - 4..], &[0xfa, 0x56, 0xea, 0x00]);
    assert_eq!(
        Open::decode(&bytes[HEADER_LEN..]).unwrap().asn,
        4_200_000_000
    );
}

#[test]
fn rfc5492_unknown_capabilities_and_parameters_are_skipped() {
    // As a router sends it: route refresh (2), graceful restart (64) and enhanced route
    // refresh (70) beside 4-octet AS, spread over two capabilities parameters.
    let body = [
        4, 0xfc, 0x00, 0, 240, 172, 18, 0, 254, //
        18,  //
        2, 6, 2, 0, 64, 2, 0, 120, //
        2, 8, 70, 0, 65, 4, 0, 0, 0xfc, 0x00,
    ];
    let open = Open::decode(&body).unwrap();
    assert_eq!(open.asn, 64512);
    assert_eq!(open.hold_time, 240);
    assert!(open.four_octet_as);
    let without = [4, 0xfc, 0x00, 0, 90, 172, 18, 0, 254, 0];
    let open = Open::decode(&without).unwrap();
    assert_eq!((open.asn, open.four_octet_as), (64512, false));
}

#[test]
fn rfc4271_s6_2_open_errors() {
    let mut body = [4, 0xfc, 0x00, 0, 90, 172, 18, 0, 254, 0];
    body[0] = 3;
    assert_eq!(
        Open::decode(&body).unwrap_err().notification,
        Notification::UNSUPPORTED_VERSION
    );
    body[0] = 4;
    body[4] = 2;
    assert_eq!(
        Open::decode(&body).unwrap_err().notification,
        Notification::UNACCEPTABLE_HOLD_TIME
    );
    body[4] = 0;
    assert!(Open::decode(&body).is_ok(), "hold time 0: no keepalives");
    body[5..9].copy_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        Open::decode(&body).unwrap_err().notification,
        Notification::BAD_BGP_IDENTIFIER
    );
    let truncated = [4, 0xfc, 0x00, 0, 90, 172, 18, 0, 254, 8, 2, 6, 65, 4];
    assert_eq!(
        Open::decode(&truncated).unwrap_err().notification,
        Notification::BAD_MESSAGE_LENGTH
    );
}

#[test]
fn rfc4271_s4_3_update_announcing_a_slash_32_over_ebgp() {
    let path = Path {
        local_asn: 64513,
        peer_asn: 64512,
        next_hop: Ipv4Addr::new(172, 18, 0, 2),
        four_octet_as: true,
    };
    let announce = ["172.18.255.200/32".parse().unwrap()];
    let body = [
        0, 0, // no withdrawn routes
        0, 20, // path attributes
        0x40, 1, 1, 0, // ORIGIN IGP
        0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0x01, // AS_PATH: AS_SEQUENCE of one 4-octet AS
        0x40, 3, 4, 172, 18, 0, 2, // NEXT_HOP
        32, 172, 18, 255, 200, // NLRI
    ];
    assert_eq!(updates(&announce, &[], &path), [with_header(48, 2, &body)]);
}

#[test]
fn rfc4271_s4_3_withdrawals_carry_no_attributes_and_the_fewest_octets() {
    let path = Path {
        local_asn: 64513,
        peer_asn: 64512,
        next_hop: Ipv4Addr::new(172, 18, 0, 2),
        four_octet_as: true,
    };
    let withdraw = [
        "10.244.1.0/24".parse().unwrap(),
        "10.244.16.0/20".parse().unwrap(),
    ];
    let body = [0, 8, 24, 10, 244, 1, 20, 10, 244, 16, 0, 0];
    assert_eq!(updates(&[], &withdraw, &path), [with_header(31, 2, &body)]);
}

#[test]
fn rfc4271_s5_1_ibgp_has_an_empty_as_path_and_a_local_pref() {
    let path = Path {
        local_asn: 64512,
        peer_asn: 64512,
        next_hop: Ipv4Addr::new(172, 18, 0, 2),
        four_octet_as: true,
    };
    let attrs = path.attributes();
    assert_eq!(
        attrs,
        [
            0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 172, 18, 0, 2, 0x40, 5, 4, 0, 0, 0, 100
        ]
    );
}

#[test]
fn rfc4271_s4_many_prefixes_are_split_into_messages_under_4096_bytes() {
    let path = Path {
        local_asn: 64513,
        peer_asn: 64512,
        next_hop: Ipv4Addr::new(172, 18, 0, 2),
        four_octet_as: false,
    };
    let many: Vec<Ipv4Net> = (0..2000u32)
        .map(|i| Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + i), 32).unwrap())
        .collect();
    let messages = updates(&many, &many, &path);
    assert_eq!(messages.len(), 6);
    for m in &messages {
        let h = header(m).unwrap();
        assert_eq!(h.body_len + HEADER_LEN, m.len());
    }
}

#[test]
fn rfc4271_s4_5_notification_cease_administrative_shutdown() {
    let bytes = Notification::ADMINISTRATIVE_SHUTDOWN.encode();
    assert_eq!(bytes, with_header(21, 3, &[6, 2]));
    let h = header(&bytes).unwrap();
    assert_eq!(
        decode(h, &bytes[HEADER_LEN..]).unwrap(),
        Message::Notification(Notification::ADMINISTRATIVE_SHUTDOWN)
    );
    assert_eq!(
        Notification::ADMINISTRATIVE_SHUTDOWN.to_string(),
        "Cease (6/2)"
    );
}

#[test]
fn rfc4271_s6_1_header_errors() {
    let mut bytes = keepalive();
    bytes[3] = 0;
    assert_eq!(
        header(&bytes).unwrap_err().notification,
        Notification::CONNECTION_NOT_SYNCHRONIZED
    );
    assert_eq!(
        header(&with_header(19, 9, &[])).unwrap_err().notification,
        Notification::BAD_MESSAGE_TYPE
    );
    for (len, kind) in [(20, 4), (18, 4), (4097, 2), (28, 1), (20, 3)] {
        assert_eq!(
            header(&with_header(len, kind, &[]))
                .unwrap_err()
                .notification,
            Notification::BAD_MESSAGE_LENGTH,
            "length {len} type {kind}"
        );
    }
    assert_eq!(
        header(&with_header(23, 2, &[])).unwrap(),
        Header {
            kind: 2,
            body_len: 4
        }
    );
}
