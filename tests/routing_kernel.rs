//! Cross-node routing and egress in the real kernel: a fabric, an external host and three
//! nodes with a pod each (tests/routing/cluster.rs), the routing reconciled inside each node
//! namespace as the agent does it, then checked with real connections.

#[path = "routing/cluster.rs"]
mod cluster;

use cluster::{
    CLUSTER_CIDR, ClientIpServer, Cluster, EXTERNAL_IP, client_ip, fdb, neighbours, podnet_routes,
};
use podnet_agent_routing::{Config, Kernel, Mode, Reconciler, VXLAN_DEVICE};
use podnet_k8s_model::NodeRoute;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn reconciler(rt: &tokio::runtime::Runtime, cluster: &Cluster, i: usize, mode: Mode) -> Reconciler {
    // The netlink socket is driven by the runtime it is opened in.
    let _enter = rt.enter();
    let node = &cluster.nodes[i];
    let cfg = Config {
        node: node.name.clone(),
        mode,
        cluster_cidr: CLUSTER_CIDR.parse().unwrap(),
    };
    Reconciler::new(cfg, Kernel::open(Some(node.ns.path())).unwrap())
}

/// Reconciles every node with `nodes`; returns the number of changes each made.
async fn reconcile_all(rs: &mut [Reconciler], nodes: &[NodeRoute]) -> Vec<usize> {
    let mut out = Vec::new();
    for r in rs.iter_mut() {
        out.push(r.reconcile(nodes).await.unwrap().changes);
    }
    out
}

/// Every path of the Kubernetes network model that routing and egress are responsible for.
fn check_paths(c: &Cluster) {
    let [n1, n2, n3] = [&c.nodes[0], &c.nodes[1], &c.nodes[2]];
    for (from, to) in [(n1, n2), (n1, n3), (n3, n2)] {
        let server = ClientIpServer::start(&to.pod, to.pod_ip);
        assert_eq!(
            client_ip(&from.pod, server.addr).as_deref(),
            Ok(from.pod_ip.to_string().as_str()),
            "{} pod → {} pod: the server must see the client pod's IP",
            from.name,
            to.name
        );
    }
    let server = ClientIpServer::start(&n2.pod, n2.pod_ip);
    assert!(
        client_ip(&n1.ns, server.addr).is_ok(),
        "node-1 → node-2's pod"
    );
    let on_node = ClientIpServer::start(&n1.ns, n1.ip);
    assert_eq!(
        client_ip(&n2.pod, on_node.addr).as_deref(),
        Ok(n2.pod_ip.to_string().as_str()),
        "node-2's pod → node-1: not masqueraded"
    );
    let external = ClientIpServer::start(&c.external, EXTERNAL_IP);
    for n in [n1, n3] {
        assert_eq!(
            client_ip(&n.pod, external.addr).as_deref(),
            Ok(n.ip.to_string().as_str()),
            "{} pod → external: masqueraded to the node IP",
            n.name
        );
    }
}

fn cluster_paths(tag: &str, mode: Mode) {
    let c = Cluster::new(tag, 3, mode);
    let rt = runtime();
    rt.block_on(async {
        let mut rs: Vec<Reconciler> = (0..3).map(|i| reconciler(&rt, &c, i, mode)).collect();
        // Before routing, pods on different nodes cannot reach each other.
        let server = ClientIpServer::start(&c.nodes[1].pod, c.nodes[1].pod_ip);
        assert!(client_ip(&c.nodes[0].pod, server.addr).is_err());
        reconcile_all(&mut rs, &c.node_routes()).await;
    });
    check_paths(&c);
}

#[test]
fn kernel_vxlan_pod_to_pod_node_to_pod_and_egress() {
    cluster_paths("rt-vx", Mode::Vxlan);
}

#[test]
fn kernel_host_gw_pod_to_pod_node_to_pod_and_egress() {
    cluster_paths("rt-gw", Mode::HostGw);
}

#[test]
fn kernel_vxlan_device_routes_neighbours_and_fdb() {
    let c = Cluster::new("rt-dev", 3, Mode::Vxlan);
    let rt = runtime();
    let mut r = reconciler(&rt, &c, 0, Mode::Vxlan);
    rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    let n1 = &c.nodes[0].ns;
    let link = &cluster::ip_json(n1, &["-d", "link", "show", "dev", VXLAN_DEVICE])[0];
    let info = &link["linkinfo"]["info_data"];
    assert_eq!(link["mtu"], 1450, "{link}");
    assert_eq!(link["address"], "0e:70:ac:12:00:02");
    assert_eq!(info["id"], 1);
    assert_eq!(info["port"], 8472);
    assert_eq!(info["local"], "172.18.0.2");
    assert_eq!(info["learning"], false);
    assert_eq!(info["link"], "eth0");
    let addrs = cluster::ip_json(n1, &["addr", "show", "dev", VXLAN_DEVICE]);
    assert_eq!(addrs[0]["addr_info"][0]["local"], "10.244.1.0");
    assert_eq!(addrs[0]["addr_info"][0]["prefixlen"], 32);
    assert_eq!(
        podnet_routes(n1),
        [
            "10.244.2.0/24 via 10.244.2.0 dev podnet.1 onlink",
            "10.244.3.0/24 via 10.244.3.0 dev podnet.1 onlink"
        ]
    );
    assert_eq!(
        neighbours(n1, VXLAN_DEVICE),
        [
            "10.244.2.0 0e:70:ac:12:00:03",
            "10.244.3.0 0e:70:ac:12:00:04"
        ]
    );
    assert_eq!(
        fdb(n1, VXLAN_DEVICE),
        [
            "0e:70:ac:12:00:03 172.18.0.3",
            "0e:70:ac:12:00:04 172.18.0.4"
        ]
    );
}

#[test]
fn kernel_vxlan_removing_a_node_removes_its_route_neighbour_and_fdb() {
    let c = Cluster::new("rt-rm", 3, Mode::Vxlan);
    let rt = runtime();
    let mut r = reconciler(&rt, &c, 0, Mode::Vxlan);
    let n1 = &c.nodes[0].ns;
    rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    let mut nodes = c.node_routes();
    nodes.remove(1);
    let out = rt.block_on(r.reconcile(&nodes)).unwrap();
    assert_eq!(
        out.changes, 4,
        "route, neighbour, fdb entry and the egress node set"
    );
    assert_eq!(
        podnet_routes(n1),
        ["10.244.3.0/24 via 10.244.3.0 dev podnet.1 onlink"]
    );
    assert_eq!(
        neighbours(n1, VXLAN_DEVICE),
        ["10.244.3.0 0e:70:ac:12:00:04"]
    );
    assert_eq!(fdb(n1, VXLAN_DEVICE), ["0e:70:ac:12:00:04 172.18.0.4"]);
    let table = n1.exec(&["nft", "list", "set", "ip", "podnet-egress", "node-ips"]);
    assert!(!table.contains("172.18.0.3"), "{table}");
}

#[test]
fn kernel_host_gw_removing_a_node_removes_its_route() {
    let c = Cluster::new("rt-gwrm", 3, Mode::HostGw);
    let rt = runtime();
    let mut r = reconciler(&rt, &c, 0, Mode::HostGw);
    let n1 = &c.nodes[0].ns;
    rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    assert_eq!(
        podnet_routes(n1),
        [
            "10.244.2.0/24 via 172.18.0.3 dev eth0",
            "10.244.3.0/24 via 172.18.0.4 dev eth0"
        ]
    );
    let mut nodes = c.node_routes();
    nodes.remove(2);
    rt.block_on(r.reconcile(&nodes)).unwrap();
    assert_eq!(podnet_routes(n1), ["10.244.2.0/24 via 172.18.0.3 dev eth0"]);
}

#[test]
fn kernel_resync_repairs_changes_made_behind_the_agents_back() {
    let c = Cluster::new("rt-fix", 3, Mode::Vxlan);
    let rt = runtime();
    // Every node routed (the paths checked at the end need the way back too); node-1 is
    // the one tampered with.
    let mut rs: Vec<Reconciler> = (0..3)
        .map(|i| reconciler(&rt, &c, i, Mode::Vxlan))
        .collect();
    rt.block_on(reconcile_all(&mut rs, &c.node_routes()));
    let r = &mut rs[0];
    let n1 = &c.nodes[0].ns;
    let (routes, neigh, fdbs) = (
        podnet_routes(n1),
        neighbours(n1, VXLAN_DEVICE),
        fdb(n1, VXLAN_DEVICE),
    );
    let table = n1.exec(&["nft", "list", "table", "ip", "podnet-egress"]);

    n1.exec(&["ip", "route", "del", "10.244.2.0/24"]);
    n1.exec(&["ip", "neigh", "del", "10.244.3.0", "dev", VXLAN_DEVICE]);
    n1.exec(&[
        "bridge",
        "fdb",
        "del",
        "0e:70:ac:12:00:03",
        "dev",
        VXLAN_DEVICE,
        "dst",
        "172.18.0.3",
    ]);
    n1.exec(&[
        "nft",
        "flush",
        "chain",
        "ip",
        "podnet-egress",
        "postrouting",
    ]);
    // Someone else's route is not podnet's to remove.
    n1.exec(&["ip", "route", "add", "192.0.2.0/24", "via", "172.18.0.1"]);

    let out = rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    assert_eq!(
        out.changes, 4,
        "route, neighbour, fdb entry and egress table"
    );
    assert_eq!(podnet_routes(n1), routes);
    assert_eq!(neighbours(n1, VXLAN_DEVICE), neigh);
    assert_eq!(fdb(n1, VXLAN_DEVICE), fdbs);
    assert_eq!(
        n1.exec(&["nft", "list", "table", "ip", "podnet-egress"]),
        table
    );
    assert!(
        n1.exec(&["ip", "route", "show", "192.0.2.0/24"])
            .contains("via 172.18.0.1")
    );

    // A device changed by hand (MTU) is put back too.
    n1.exec(&["ip", "link", "set", VXLAN_DEVICE, "mtu", "1400"]);
    rt.block_on(r.reconcile(&c.node_routes())).unwrap();
    assert_eq!(
        cluster::ip_json(n1, &["link", "show", "dev", VXLAN_DEVICE])[0]["mtu"],
        1450
    );
    assert_eq!(
        podnet_routes(n1),
        routes,
        "routes of a re-created device are restored"
    );
    check_paths_from_node_1(&c);
}

/// After a repair, node-1's pod still reaches node-2's.
fn check_paths_from_node_1(c: &Cluster) {
    let server = ClientIpServer::start(&c.nodes[1].pod, c.nodes[1].pod_ip);
    assert_eq!(
        client_ip(&c.nodes[0].pod, server.addr),
        Ok(c.nodes[0].pod_ip.to_string())
    );
}

#[test]
fn kernel_reapplying_the_same_state_changes_nothing() {
    for (tag, mode) in [("rt-idem-vx", Mode::Vxlan), ("rt-idem-gw", Mode::HostGw)] {
        let c = Cluster::new(tag, 3, mode);
        let rt = runtime();
        let mut r = reconciler(&rt, &c, 0, mode);
        let first = rt.block_on(r.reconcile(&c.node_routes())).unwrap();
        assert!(first.changes > 0);
        let before = c.nodes[0]
            .ns
            .exec(&["ip", "-d", "link", "show", "dev", "eth0"]);
        let again = rt.block_on(r.reconcile(&c.node_routes())).unwrap();
        assert_eq!(
            again.changes, 0,
            "{mode}: a second reconcile must change nothing"
        );
        // A fresh reconciler (an agent restart) adopts what is there, the egress table too:
        // it is read back and found to be what is wanted.
        let mut restarted = reconciler(&rt, &c, 0, mode);
        let after_restart = rt.block_on(restarted.reconcile(&c.node_routes())).unwrap();
        assert_eq!(after_restart.changes, 0, "{mode}");
        assert_eq!(
            c.nodes[0]
                .ns
                .exec(&["ip", "-d", "link", "show", "dev", "eth0"]),
            before
        );
    }
}

#[test]
fn kernel_switching_mode_replaces_routes_and_removes_the_device() {
    let c = Cluster::new("rt-switch", 3, Mode::HostGw);
    let rt = runtime();
    let n1 = &c.nodes[0].ns;
    rt.block_on(reconciler(&rt, &c, 0, Mode::Vxlan).reconcile(&c.node_routes()))
        .unwrap();
    assert_eq!(podnet_routes(n1).len(), 2);
    rt.block_on(reconciler(&rt, &c, 0, Mode::HostGw).reconcile(&c.node_routes()))
        .unwrap();
    assert_eq!(
        podnet_routes(n1),
        [
            "10.244.2.0/24 via 172.18.0.3 dev eth0",
            "10.244.3.0/24 via 172.18.0.4 dev eth0"
        ]
    );
    let (exists, _, _) = n1.try_exec(&["ip", "link", "show", "dev", VXLAN_DEVICE]);
    assert!(!exists, "the vxlan device is removed in host-gw mode");
}
