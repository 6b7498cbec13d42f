//! nftables mode against the real kernel, with real packets: a node namespace with a bridge
//! and three netexec pods, and a client outside the cluster (see podnet-test-util's `proxy_topology`,
//! shared with the iptables mode's suite). Every test builds its own namespaces.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use podnet_agent_proxy::SyncKind;
use podnet_agent_proxy::fixture::{self, NODE, terminating};
use podnet_agent_proxy::nftables::cleanup;
use podnet_k8s_model::{ServiceName, ServiceType, SessionAffinity, TrafficPolicy};
use podnet_test_util::Netns;
use podnet_test_util::proxy_topology::{CLIENT_IP, NODE_IP, Topology, pod_ip};
use support::{CIP, engine, hostnames, netexec_slice, pods, program, udp_hostname, web};

#[test]
fn nftables_clusterip_spreads_over_three_backends() {
    let topo = Topology::new("nft-spread", 3);
    let mut e = engine(&topo);
    program(&mut e, web("web", CIP, |_| {}), pods(&[1, 2, 3]));
    let seen: BTreeSet<String> = hostnames(&topo.client, &format!("http://{CIP}/hostname"), 60)
        .into_iter()
        .collect();
    assert_eq!(seen.len(), 3, "all three backends answer: {seen:?}");
    // And from a pod, and from the node itself.
    assert!(Topology::curl(&topo.pods[0], &format!("http://{CIP}/hostname")).is_ok());
    assert!(Topology::curl(&topo.node, &format!("http://{CIP}/hostname")).is_ok());
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(listed.contains("comment \"ns1/web:p80\""), "{listed}");
    assert!(!listed.contains("vmap {"), "no anonymous vmap per service");
}

#[test]
fn nftables_client_ip_affinity_sticks() {
    let topo = Topology::new("nft-sticky", 3);
    let mut e = engine(&topo);
    let svc = web("sticky", CIP, |s| {
        s.session_affinity = SessionAffinity::ClientIp { timeout_secs: 30 };
    });
    program(&mut e, svc, pods(&[1, 2, 3]));
    let seen: BTreeSet<String> = hostnames(&topo.client, &format!("http://{CIP}/hostname"), 20)
        .into_iter()
        .collect();
    assert_eq!(seen.len(), 1, "one backend for one client: {seen:?}");
}

#[test]
fn nftables_service_without_endpoints_refuses_at_once() {
    let topo = Topology::new("nft-reject", 1);
    let mut e = engine(&topo);
    program(
        &mut e,
        web("empty", CIP, |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30050);
        }),
        vec![],
    );
    for (who, from, addr) in [
        ("client", &topo.client, format!("{CIP}:80")),
        ("pod", &topo.pods[0], format!("{CIP}:80")),
        ("node", &topo.node, format!("{CIP}:80")),
        ("client", &topo.client, format!("{NODE_IP}:30050")),
    ] {
        // Refused (a reject), not timed out (a drop): the error kind tells them apart.
        let err = connect(from, &addr).expect_err("no endpoint");
        assert_eq!(err, std::io::ErrorKind::ConnectionRefused, "{who} → {addr}");
    }
}

/// A TCP connect from inside `ns` (3 s timeout).
fn connect(ns: &Netns, addr: &str) -> Result<(), std::io::ErrorKind> {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    podnet_netns::run_in(ns.path(), move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(3))
            .map(drop)
            .map_err(|e| e.kind())
    })
    .unwrap()
}

#[test]
fn nftables_nodeport_loadbalancer_and_external_ips_reach_backends() {
    let topo = Topology::new("nft-ext", 2);
    let mut e = engine(&topo);
    let svc = web("lb", CIP, |s| {
        s.type_ = ServiceType::LoadBalancer;
        s.ports[0].node_port = Some(30080);
        s.load_balancer_ips = vec![fixture::ip("172.18.255.200")];
        s.external_ips = vec![fixture::ip("203.0.113.50")];
    });
    program(&mut e, svc, pods(&[1, 2]));
    for url in [
        format!("http://{NODE_IP}:30080/hostname"),
        "http://172.18.255.200/hostname".to_owned(),
        "http://203.0.113.50/hostname".to_owned(),
    ] {
        let h = Topology::curl(&topo.client, &url).unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert!(h.starts_with("pod-"), "{url}: {h}");
        // Cluster policy: the backend sees the node, not the client.
        let ip = Topology::curl(&topo.client, &url.replace("/hostname", "/clientip")).unwrap();
        assert!(!ip.starts_with(CLIENT_IP), "{url}: masqueraded, got {ip}");
    }
}

#[test]
fn nftables_load_balancer_source_ranges_filter_clients() {
    let topo = Topology::new("nft-fw", 1);
    let mut e = engine(&topo);
    let lb = |ranges: &str| {
        web("fw", CIP, |s| {
            s.type_ = ServiceType::LoadBalancer;
            s.ports[0].node_port = Some(30081);
            s.load_balancer_ips = vec![fixture::ip("172.18.255.201")];
            s.load_balancer_source_ranges = vec![ranges.parse().unwrap()];
        })
    };
    program(&mut e, lb("198.51.100.0/24"), pods(&[1]));
    assert!(Topology::curl(&topo.client, "http://172.18.255.201/hostname").is_err());
    program(&mut e, lb("172.18.0.0/24"), pods(&[1]));
    assert!(Topology::curl(&topo.client, "http://172.18.255.201/hostname").is_ok());
}

#[test]
fn nftables_external_traffic_policy_local_keeps_the_client_ip() {
    let topo = Topology::new("nft-etp", 2);
    let mut e = engine(&topo);
    let svc = web("local", CIP, |s| {
        s.type_ = ServiceType::NodePort;
        s.ports[0].node_port = Some(30090);
        s.external_traffic_policy = TrafficPolicy::Local;
        s.health_check_node_port = Some(32090);
    });
    program(&mut e, svc.clone(), pods(&[1, 2]));
    let ip = Topology::curl(&topo.client, &format!("http://{NODE_IP}:30090/clientip")).unwrap();
    assert!(
        ip.starts_with(&format!("{CLIENT_IP}:")),
        "client IP kept: {ip}"
    );

    // No endpoint on this node: external traffic is dropped here (not rejected: the load
    // balancer's health check steers it away), pods still reach the Service.
    let mut elsewhere = pods(&[1]);
    elsewhere[0].node_name = Some("node-2".into());
    program(&mut e, svc, elsewhere);
    let err = Topology::curl(&topo.client, &format!("http://{NODE_IP}:30090/")).unwrap_err();
    assert_eq!(err.0, 28, "dropped (curl timeout), not refused: {err:?}");
    assert!(Topology::curl(&topo.pods[1], &format!("http://{CIP}/hostname")).is_ok());
}

#[test]
fn nftables_hairpin_a_pod_reaches_itself_through_its_service() {
    let topo = Topology::new("nft-hairpin", 1);
    let mut e = engine(&topo);
    program(&mut e, web("self", CIP, |_| {}), pods(&[1]));
    let h = Topology::curl(&topo.pods[0], &format!("http://{CIP}/hostname")).unwrap();
    assert_eq!(h, "pod-1");
    // Masqueraded: the pod sees the node's address, so its reply comes back through it.
    let ip = Topology::curl(&topo.pods[0], &format!("http://{CIP}/clientip")).unwrap();
    assert!(!ip.starts_with(&pod_ip(1).to_string()), "{ip}");
}

#[test]
fn nftables_terminating_endpoints_serve_only_when_none_is_ready() {
    let topo = Topology::new("nft-term", 2);
    let mut e = engine(&topo);
    let term = |i: usize| terminating(&pod_ip(i).to_string(), NODE);
    program(
        &mut e,
        web("term", CIP, |_| {}),
        vec![term(1), pods(&[2]).remove(0)],
    );
    let seen: BTreeSet<String> = hostnames(&topo.client, &format!("http://{CIP}/hostname"), 10)
        .into_iter()
        .collect();
    assert_eq!(seen, BTreeSet::from(["pod-2".to_owned()]));
    program(&mut e, web("term", CIP, |_| {}), vec![term(1), term(2)]);
    let seen: BTreeSet<String> = hostnames(&topo.client, &format!("http://{CIP}/hostname"), 20)
        .into_iter()
        .collect();
    assert_eq!(seen.len(), 2, "both terminating endpoints serve: {seen:?}");
}

#[test]
fn nftables_udp_conntrack_is_flushed_when_an_endpoint_goes() {
    let topo = Topology::new("nft-udp", 2);
    let mut e = engine(&topo);
    program(&mut e, web("dns", CIP, |_| {}), pods(&[1]));
    let dst = format!("{CIP}:81");
    assert_eq!(udp_hostname(&topo.client, &dst).as_deref(), Some("pod-1"));
    // pod-1 leaves the Service (it still runs): without the flush, the conntrack entry of
    // this client's flow would keep sending it to pod-1.
    program(&mut e, web("dns", CIP, |_| {}), pods(&[2]));
    assert_eq!(udp_hostname(&topo.client, &dst).as_deref(), Some("pod-2"));

    // A UDP Service that had no endpoint gets one: the entry cached while it was rejected
    // goes too.
    program(&mut e, web("dns", CIP, |_| {}), vec![]);
    assert_eq!(udp_hostname(&topo.client, &dst), None);
    program(&mut e, web("dns", CIP, |_| {}), pods(&[1]));
    assert_eq!(udp_hostname(&topo.client, &dst).as_deref(), Some("pod-1"));
}

#[test]
fn nftables_restart_adopts_the_table_and_keeps_an_open_connection() {
    let topo = Topology::new("nft-restart", 2);
    let mut e = engine(&topo);
    program(&mut e, web("keep", CIP, |_| {}), pods(&[1, 2]));
    // A second Service that is deleted while the proxy is down.
    program(&mut e, web("gone", "10.96.0.51", |_| {}), pods(&[1]));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (res_tx, res_rx) = std::sync::mpsc::channel();
    let client = topo.client.path().to_owned();
    let conn = std::thread::spawn(move || {
        podnet_netns::run_in(&client, move || {
            let mut s = TcpStream::connect(format!("{CIP}:80")).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let ask = |s: &mut TcpStream| -> String {
                s.write_all(b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                text.rsplit("\r\n\r\n").next().unwrap_or("").to_owned()
            };
            let first = ask(&mut s);
            rx.recv().unwrap();
            let second = ask(&mut s);
            res_tx.send((first, second)).unwrap();
        })
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(e);
    // The new proxy starts from the API's state (without "gone") and adopts the table.
    let mut e = engine(&topo);
    e.state_mut().upsert_service(web("keep", CIP, |_| {}));
    e.state_mut()
        .upsert_slice(netexec_slice("keep", pods(&[1, 2])));
    let report = e.sync(false).unwrap();
    assert_eq!(
        report.kind,
        SyncKind::Full,
        "the first sync of a new proxy is full"
    );
    tx.send(()).unwrap();
    let (first, second) = res_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    conn.join().unwrap();
    assert!(first.starts_with("pod-"), "{first:?}");
    assert_eq!(
        first, second,
        "the same connection, to the same backend, still works"
    );
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(!listed.contains("ns1/gone"), "no stale rule: {listed}");
}

fn chains_of(listed: &str) -> BTreeSet<String> {
    // Each chain with its body, as one string.
    listed
        .split("\n\tchain ")
        .skip(1)
        .map(|c| c.split("\n\t}").next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn nftables_partial_sync_changes_only_the_affected_chains() {
    let topo = Topology::new("nft-partial", 3);
    let mut e = engine(&topo);
    for i in 0..20 {
        let name = format!("svc{i}");
        e.state_mut()
            .upsert_service(web(&name, &format!("10.96.1.{i}"), |_| {}));
        e.state_mut()
            .upsert_slice(netexec_slice(&name, pods(&[1, 2, 3])));
    }
    e.sync(false).unwrap();
    let before = chains_of(
        &topo
            .node
            .exec(&["nft", "list", "table", "ip", "kube-proxy"]),
    );
    e.state_mut()
        .upsert_slice(netexec_slice("svc7", pods(&[1, 2])));
    let report = e.sync(false).unwrap();
    assert_eq!(report.kind, SyncKind::Partial);
    assert_eq!(report.changed_ports, 2, "the TCP and UDP port of svc7");
    assert!(report.stats.transaction_lines < 20, "{report:?}");
    let after = chains_of(
        &topo
            .node
            .exec(&["nft", "list", "table", "ip", "kube-proxy"]),
    );
    let changed: BTreeSet<&String> = before.symmetric_difference(&after).collect();
    assert!(!changed.is_empty());
    for c in &changed {
        assert!(c.contains("ns1/svc7/"), "only svc7's chains change: {c}");
    }
    let seen: BTreeSet<String> = hostnames(&topo.client, "http://10.96.1.7/hostname", 30)
        .into_iter()
        .collect();
    assert_eq!(
        seen,
        BTreeSet::from(["pod-1".to_owned(), "pod-2".to_owned()])
    );
}

#[test]
fn nftables_full_resync_repairs_what_was_changed_behind_its_back() {
    let topo = Topology::new("nft-repair", 1);
    let mut e = engine(&topo);
    program(&mut e, web("web", CIP, |_| {}), pods(&[1]));
    topo.node.exec(&[
        "nft",
        "delete",
        "element",
        "ip",
        "kube-proxy",
        "service-ips",
        &format!("{{ {CIP} . tcp . 80 }}"),
    ]);
    topo.node.exec(&[
        "nft",
        "add",
        "chain",
        "ip",
        "kube-proxy",
        "service-XXXXXXXX-ns1/intruder/tcp/p80",
    ]);
    assert!(Topology::curl(&topo.client, &format!("http://{CIP}/hostname")).is_err());
    let report = e.sync(true).unwrap();
    assert_eq!(report.kind, SyncKind::Full);
    assert_eq!(
        Topology::curl(&topo.client, &format!("http://{CIP}/hostname")).unwrap(),
        "pod-1"
    );
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(!listed.contains("intruder"), "{listed}");
}

#[test]
fn nftables_deleted_service_leaves_nothing_and_cleanup_removes_the_table() {
    let topo = Topology::new("nft-delete", 1);
    let mut e = engine(&topo);
    program(
        &mut e,
        web("web", CIP, |s| {
            s.session_affinity = SessionAffinity::ClientIp { timeout_secs: 30 };
        }),
        pods(&[1]),
    );
    program(&mut e, web("other", "10.96.0.51", |_| {}), pods(&[1]));
    e.state_mut()
        .remove_service(&ServiceName::new("ns1", "web"));
    e.state_mut().remove_slice("ns1", "web-1");
    e.sync(false).unwrap();
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(!listed.contains("ns1/web"), "{listed}");
    assert!(!listed.contains(CIP), "{listed}");
    assert!(listed.contains("ns1/other"));
    cleanup(Some(topo.node.path())).unwrap();
    cleanup(Some(topo.node.path())).unwrap();
    assert!(
        !topo
            .node
            .exec(&["nft", "list", "tables"])
            .contains("kube-proxy")
    );
}

/// kube-proxy's periodic resync without its cost: when nothing changed and nothing was
/// committed to nftables since the last sync (the kernel's generation), a full resync writes
/// nothing; a rule flushed behind the proxy's back makes the next one rewrite and repair.
#[test]
fn nftables_resync_writes_only_after_a_change_behind_its_back() {
    let topo = Topology::new("nft-resync", 3);
    let mut e = engine(&topo);
    program(&mut e, web("web", CIP, |_| {}), pods(&[1, 2, 3]));
    let url = format!("http://{CIP}/hostname");
    let quiet = e.sync(true).expect("resync");
    assert_eq!(quiet.kind, SyncKind::Full);
    assert_eq!(
        quiet.stats.transaction_lines, 0,
        "nothing changed: nothing written"
    );
    assert!(Topology::curl(&topo.client, &url).is_ok());

    topo.node
        .exec(&["nft", "flush", "chain", "ip", "kube-proxy", "services"]);
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(!listed.contains("vmap @service-ips"), "{listed}");
    let repair = e.sync(true).expect("resync");
    assert!(repair.stats.transaction_lines > 0, "{repair:?}");
    let listed = topo
        .node
        .exec(&["nft", "list", "table", "ip", "kube-proxy"]);
    assert!(listed.contains("vmap @service-ips"), "{listed}");
    assert!(Topology::curl(&topo.client, &url).is_ok());
}
