//! Layout compatibility with Debian's host-local (containernetworking-plugins 1.1.1, which
//! speaks CNI up to 1.0.0): the same config gives the same addresses and the same files,
//! and the two plugins can share one state directory.

use serde_json::json;

use crate::support::{HOST_LOCAL, Net, PODNET_IPAM};

fn ranges() -> serde_json::Value {
    json!([
        [{"subnet": "10.50.0.0/29", "rangeEnd": "10.50.0.4"},
         {"subnet": "10.51.0.0/24", "rangeStart": "10.51.0.200", "gateway": "10.51.0.254"}],
        [{"subnet": "fd50::/120", "rangeStart": "fd50::a", "rangeEnd": "fd50::d"}]
    ])
}

#[test]
fn hands_out_the_same_addresses_and_writes_the_same_files_as_host_local() {
    let run = |plugin: &'static str| {
        let net = Net::ranges(ranges()).version("1.0.0").with_plugin(plugin);
        let mut results = Vec::new();
        for id in ["c1", "c2", "c3"] {
            results.push(net.call("ADD", id, "eth0").ok().clone());
        }
        net.del("c2");
        // c4 moves on to the set's second range, c5's IPv6 wraps around to c2's.
        for id in ["c4", "c5"] {
            results.push(net.call("ADD", id, "eth0").ok().clone());
        }
        (results, net.files())
    };
    let (theirs, their_files) = run(HOST_LOCAL);
    let (ours, our_files) = run(PODNET_IPAM);
    assert_eq!(ours, theirs, "results differ");
    assert_eq!(our_files, their_files, "state files differ");
    assert!(their_files.contains_key("fd50::a") && their_files.contains_key("last_reserved_ip.1"));
}

#[test]
fn shares_one_state_directory_with_host_local() {
    let mut net = Net::ranges(json!([[{"subnet": "10.52.0.0/24"}]])).version("1.0.0");
    net.plugin = HOST_LOCAL;
    assert_eq!(net.add("h1"), ["10.52.0.2/24"]);
    net.plugin = PODNET_IPAM;
    assert_eq!(
        net.add("p1"),
        ["10.52.0.3/24"],
        "continues after host-local's marker"
    );
    net.call("CHECK", "h1", "eth0").ok();
    net.plugin = HOST_LOCAL;
    assert_eq!(
        net.add("h2"),
        ["10.52.0.4/24"],
        "host-local continues after ours"
    );
    net.call("CHECK", "p1", "eth0").ok();
    net.del("p1");
    net.plugin = PODNET_IPAM;
    net.del("h1");
    assert_eq!(net.held_by("h2"), ["10.52.0.4"]);
    assert_eq!(net.reservations().len(), 1);
}
