//! The responder against the real kernel and Debian's `arping`: two namespaces joined by a
//! veth pair, the responder on one end, `arping` (and the kernel's neighbour table) on the
//! other. Run as root inside `unshare --net --mount` (scripts/test.sh).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use podnet_arp::{Responder, interface_holding};
use podnet_test_util::Netns;

const VIP: &str = "172.18.255.200";

/// `node` (172.18.0.2 on eth0) and `router` (172.18.0.1 on eth0), one veth apart.
fn segment() -> (Netns, Netns) {
    let node = Netns::new("arp-node");
    let router = Netns::new("arp-router");
    node.exec(&[
        "ip",
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        router.name(),
    ]);
    for (ns, ip) in [(&node, "172.18.0.2/16"), (&router, "172.18.0.1/16")] {
        ns.exec(&["ip", "addr", "add", ip, "dev", "eth0"]);
        ns.exec(&["ip", "link", "set", "eth0", "up"]);
    }
    (node, router)
}

fn mac_of(ns: &Netns) -> String {
    let out = ns.exec(&["cat", "/sys/class/net/eth0/address"]);
    out.trim().to_owned()
}

/// One `arping` request for VIP from the router: the MAC that answered, if any.
fn arping(router: &Netns) -> Option<String> {
    let (ok, out, _) = router.try_exec(&["arping", "-c", "1", "-w", "2", "-I", "eth0", VIP]);
    ok.then(|| {
        out.split_whitespace()
            .find(|w| w.starts_with('[') && w.ends_with(']'))
            .map(|w| w.trim_matches(['[', ']']).to_lowercase())
    })
    .flatten()
}

fn far_future() -> Option<Instant> {
    Some(Instant::now() + Duration::from_secs(3600))
}

#[test]
fn arp_kernel_answers_only_for_addresses_it_holds() {
    let (node, router) = segment();
    let responder = Responder::start("eth0", Some(node.path())).unwrap();
    // `ip netns exec` mounts the namespace's own sysfs, so this is the node's eth0.
    let node_mac = mac_of(&node);
    assert_eq!(responder.mac().to_string(), node_mac);
    assert_eq!(arping(&router), None, "nothing held: no answer");

    responder.answer_until(VIP.parse().unwrap(), far_future());
    assert_eq!(arping(&router), Some(node_mac));

    responder.answer_until(VIP.parse().unwrap(), None);
    assert_eq!(arping(&router), None, "released: no answer");
}

#[test]
fn arp_kernel_falls_silent_at_its_deadline() {
    let (node, router) = segment();
    let responder = Responder::start("eth0", Some(node.path())).unwrap();
    let until = Instant::now() + Duration::from_millis(300);
    responder.answer_until(VIP.parse().unwrap(), Some(until));
    // Whatever the timing of the first request, once the deadline has passed the answers
    // stop, without anyone telling the responder.
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(arping(&router), None);
    assert!(responder.answering(Instant::now()).is_empty());
}

#[test]
fn arp_kernel_announcement_moves_a_neighbour_entry() {
    let (node, router) = segment();
    let responder = Responder::start("eth0", Some(node.path())).unwrap();
    let vip: Ipv4Addr = VIP.parse().unwrap();
    // The router's cache points at a previous holder.
    router.exec(&[
        "ip",
        "neigh",
        "replace",
        VIP,
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "eth0",
        "nud",
        "stale",
    ]);
    assert!(!responder.announce(vip).unwrap(), "not held: not announced");
    responder.answer_until(vip, far_future());
    assert!(responder.announce(vip).unwrap());
    let node_mac = mac_of(&node);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let neigh = router.exec(&["ip", "neigh", "show", VIP, "dev", "eth0"]);
        if neigh.contains(&node_mac) {
            break;
        }
        assert!(Instant::now() < deadline, "the entry still says: {neigh}");
        responder.announce(vip).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn arp_kernel_finds_the_interface_holding_an_address() {
    let (node, _router) = segment();
    let found = podnet_netns::run_in(node.path(), || {
        interface_holding("172.18.0.2".parse().unwrap())
    })
    .unwrap()
    .unwrap();
    assert_eq!(found.as_deref(), Some("eth0"));
    let none = podnet_netns::run_in(node.path(), || {
        interface_holding("172.18.0.9".parse().unwrap())
    })
    .unwrap()
    .unwrap();
    assert_eq!(none, None);
}
