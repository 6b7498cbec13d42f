//! The bare paths the pod paths are measured against, built in the same run: two namespaces
//! joined by one veth pair, and two namespaces on a bridge (the lab's node network, in a
//! fabric namespace of its own) with nothing but a VXLAN device between them, as podnet's
//! vxlan mode sets it up (VNI 1, UDP 8472, MTU 1450, static FDB and neighbour entries).
//! Everything is removed on drop.

use std::net::Ipv4Addr;

use podnet_test_util::Netns;
use serde_json::Value;

/// Two endpoints: iperf3's client side and server side, and the server's address.
pub struct Pair {
    pub client: Netns,
    pub server: Netns,
    pub server_ip: Ipv4Addr,
    /// The fabric, for the vxlan pair (kept until the ends are gone: declared last).
    _fabric: Option<Netns>,
}

/// `a` ⇄ `b` over a single veth pair, MTU 1500.
pub fn veth() -> Pair {
    let client = Netns::new("bare-veth-a");
    let server = Netns::new("bare-veth-b");
    client.veth("eth0", &server, "eth0");
    for (ns, ip) in [(&client, "192.168.50.1/24"), (&server, "192.168.50.2/24")] {
        ns.exec(&["ip", "addr", "add", ip, "dev", "eth0"]);
    }
    Pair {
        client,
        server,
        server_ip: Ipv4Addr::new(192, 168, 50, 2),
        _fabric: None,
    }
}

/// Two ends on a fabric bridge (172.18.1.1 and .2), each with a VXLAN device
/// (192.168.77.1 and .2) that knows the other's VTEP statically.
pub fn vxlan() -> Pair {
    let fabric = Netns::new("bare-vx-fab");
    fabric.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
    fabric.exec(&["ip", "link", "set", "br0", "up"]);
    let ends: Vec<Netns> = (1..=2u8).map(|i| vxlan_end(&fabric, i)).collect();
    let mac = |ns: &Netns| {
        let v: Value =
            serde_json::from_str(&ns.exec(&["ip", "-j", "link", "show", "dev", "vx0"])).unwrap();
        v[0]["address"].as_str().unwrap().to_owned()
    };
    let macs = [mac(&ends[0]), mac(&ends[1])];
    for (i, ns) in ends.iter().enumerate() {
        let peer = 1 - i;
        let peer_mac = &macs[peer];
        let peer_underlay = format!("172.18.1.{}", peer + 1);
        let peer_overlay = format!("192.168.77.{}", peer + 1);
        ns.exec(&[
            "bridge",
            "fdb",
            "append",
            peer_mac,
            "dev",
            "vx0",
            "dst",
            &peer_underlay,
        ]);
        ns.exec(&[
            "ip",
            "neigh",
            "add",
            &peer_overlay,
            "lladdr",
            peer_mac,
            "dev",
            "vx0",
            "nud",
            "permanent",
        ]);
    }
    let mut it = ends.into_iter();
    Pair {
        client: it.next().unwrap(),
        server: it.next().unwrap(),
        server_ip: Ipv4Addr::new(192, 168, 77, 2),
        _fabric: Some(fabric),
    }
}

fn vxlan_end(fabric: &Netns, i: u8) -> Netns {
    let ns = Netns::new(&format!("bare-vx{i}"));
    let port = format!("bare{i}");
    fabric.veth(&port, &ns, "eth0");
    fabric.exec(&["ip", "link", "set", &port, "master", "br0"]);
    let underlay = format!("172.18.1.{i}");
    ns.exec(&[
        "ip",
        "addr",
        "add",
        &format!("{underlay}/16"),
        "dev",
        "eth0",
    ]);
    ns.exec(&["ip", "link", "set", "eth0", "up"]);
    ns.exec(&[
        "ip",
        "link",
        "add",
        "vx0",
        "type",
        "vxlan",
        "id",
        "1",
        "dstport",
        "8472",
        "local",
        &underlay,
        "dev",
        "eth0",
        "nolearning",
    ]);
    ns.exec(&["ip", "link", "set", "vx0", "mtu", "1450", "up"]);
    ns.exec(&[
        "ip",
        "addr",
        "add",
        &format!("192.168.77.{i}/24"),
        "dev",
        "vx0",
    ]);
    ns
}
