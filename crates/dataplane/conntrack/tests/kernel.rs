//! Against the real kernel's conntrack table, in a namespace of its own. (NAT filters are
//! exercised with real DNATed flows by the proxy's kernel suite.)

use podnet_conntrack::{Conntrack, Filter};
use podnet_test_util::Netns;

fn insert(ns: &Netns, dst: &str, dport: &str) {
    ns.exec(&[
        "conntrack",
        "-I",
        "-p",
        "udp",
        "-s",
        "10.0.0.1",
        "-d",
        dst,
        "--sport",
        "1000",
        "--dport",
        dport,
        "-t",
        "60",
    ]);
}

#[test]
fn conntrack_deletes_entries_to_an_address_and_port_only_in_its_netns() {
    let ns = Netns::new("ct");
    let other = Netns::new("ct-other");
    insert(&ns, "10.96.0.10", "53");
    insert(&ns, "10.96.0.10", "54");
    insert(&other, "10.96.0.10", "53");
    let ct = Conntrack::new(Some(ns.path()));
    let to_53 = Filter::ToAddr {
        proto: "udp",
        ip: "10.96.0.10".parse().unwrap(),
        port: Some(53),
    };
    assert_eq!(ct.delete(&to_53).unwrap(), 1);
    assert_eq!(
        ct.delete(&to_53).unwrap(),
        0,
        "nothing left is not an error"
    );
    assert_eq!(
        ct.delete(&Filter::ToPort {
            proto: "udp",
            port: 54
        })
        .unwrap(),
        1
    );
    let left = other.exec(&["conntrack", "-L"]);
    assert!(
        left.contains("dport=53"),
        "the other namespace is untouched: {left}"
    );
}
