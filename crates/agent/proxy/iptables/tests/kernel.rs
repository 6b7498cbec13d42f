//! The iptables mode against the real kernel, with real packets: a node namespace with a
//! bridge, three pods running netexec, a client outside the cluster (see
//! podnet-test-util's `proxy_topology`). Every test builds its own namespaces.

#[path = "support/plan.rs"]
mod plan;

use std::collections::BTreeMap;
use std::time::Duration;

use plan::Proxy;
use podnet_agent_proxy::fixture::{self, NODE, endpoint, ip, service, slice};
use podnet_k8s_model::{ServiceType, SessionAffinity, TrafficPolicy};
use podnet_test_util::proxy_topology::{CLIENT_IP, GATEWAY, NODE_IP, Topology, pod_ip};

/// A slice of Service `ns1/name` with the given pods (1-based) as ready endpoints on this
/// node.
fn pods_slice(name: &str, pods: &[usize]) -> podnet_k8s_model::EndpointSliceInfo {
    let eps = pods
        .iter()
        .map(|i| endpoint(&pod_ip(*i).to_string(), NODE))
        .collect();
    slice("ns1", name, 1, eps, |_| {})
}

/// How often each answer came back over `n` requests.
fn tally(ns: &podnet_test_util::Netns, url: &str, n: usize) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let answer = Topology::curl(ns, url).unwrap_or_else(|e| panic!("{url}: {e:?}"));
        *seen.entry(answer).or_insert(0) += 1;
    }
    seen
}

#[test]
fn kernel_iptables_cluster_ip_spreads_over_three_backends() {
    let topo = Topology::new("ipt-spread", 3);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.11", |_| {}));
    proxy.state.upsert_slice(pods_slice("web", &[1, 2, 3]));
    proxy.sync(true);

    let seen = tally(&topo.client, "http://10.96.0.11/hostname", 60);
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.values().all(|n| *n >= 6), "uneven spread: {seen:?}");
    // The chain users know: one statistic rule per endpoint but the last.
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    assert_eq!(
        nat.matches("--mode random --probability").count(),
        2,
        "{nat}"
    );
    assert!(nat.contains("ns1/web:p80 cluster IP"), "{nat}");
}

#[test]
fn kernel_iptables_client_ip_affinity_sticks_to_one_backend() {
    let topo = Topology::new("ipt-sticky", 3);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "sticky", "10.96.0.13", |s| {
            s.session_affinity = SessionAffinity::ClientIp { timeout_secs: 60 };
        }));
    proxy.state.upsert_slice(pods_slice("sticky", &[1, 2, 3]));
    proxy.sync(true);

    let seen = tally(&topo.client, "http://10.96.0.13/hostname", 20);
    assert_eq!(seen.len(), 1, "affinity did not stick: {seen:?}");
}

#[test]
fn kernel_iptables_service_without_endpoints_is_refused_at_once() {
    let topo = Topology::new("ipt-reject", 1);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "empty", "10.96.0.12", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30012);
        }));
    proxy.sync(true);

    for url in ["http://10.96.0.12/", &format!("http://{NODE_IP}:30012/")] {
        let err = Topology::curl(&topo.client, url).expect_err(url);
        // curl's 7: could not connect (refused), not 28 (timed out).
        assert_eq!(err.0, 7, "{url}: {err:?}");
    }
    // From a pod, too (FORWARD rather than INPUT).
    let err = Topology::curl(&topo.pods[0], "http://10.96.0.12/").expect_err("from a pod");
    assert_eq!(err.0, 7, "{err:?}");
}

#[test]
fn kernel_iptables_node_port_answers_on_every_local_address() {
    let topo = Topology::new("ipt-nodeport", 3);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "np", "10.96.0.14", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30014);
            s.external_ips = vec![ip("203.0.113.14")];
        }));
    proxy.state.upsert_slice(pods_slice("np", &[1, 2, 3]));
    proxy.sync(true);

    for url in [
        format!("http://{NODE_IP}:30014/hostname"),
        format!("http://{GATEWAY}:30014/hostname"),
        "http://203.0.113.14/hostname".to_owned(),
    ] {
        let answer = Topology::curl(&topo.client, &url).unwrap_or_else(|e| panic!("{url}: {e:?}"));
        assert!(answer.starts_with("pod-"), "{url}: {answer}");
    }
    // Cluster policy: the source is masqueraded to the node (the endpoint may be elsewhere).
    let seen = Topology::curl(&topo.client, &format!("http://{NODE_IP}:30014/clientip")).unwrap();
    assert!(seen.starts_with(&format!("{GATEWAY}:")), "{seen}");
}

#[test]
fn kernel_iptables_external_traffic_policy_local_keeps_the_client_ip() {
    let topo = Topology::new("ipt-etp", 2);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "local", "10.96.0.15", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30015);
            s.external_traffic_policy = TrafficPolicy::Local;
            s.health_check_node_port = Some(32015);
        }));
    // One local endpoint, one on another node: only the local one serves external traffic.
    proxy.state.upsert_slice(slice(
        "ns1",
        "local",
        1,
        vec![
            endpoint(&pod_ip(1).to_string(), NODE),
            endpoint(&pod_ip(2).to_string(), fixture::OTHER_NODE),
        ],
        |_| {},
    ));
    proxy.sync(true);

    let url = format!("http://{NODE_IP}:30015/clientip");
    for _ in 0..10 {
        let seen = Topology::curl(&topo.client, &url).unwrap();
        assert!(
            seen.starts_with(&format!("{CLIENT_IP}:")),
            "client IP lost: {seen}"
        );
    }
    let seen = tally(
        &topo.client,
        &format!("http://{NODE_IP}:30015/hostname"),
        10,
    );
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["pod-1"]);
}

#[test]
fn kernel_iptables_hairpin_a_pod_reaches_itself_through_its_service() {
    let topo = Topology::new("ipt-hairpin", 1);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "self", "10.96.0.16", |_| {}));
    proxy.state.upsert_slice(pods_slice("self", &[1]));
    proxy.sync(true);

    let seen = Topology::curl(&topo.pods[0], "http://10.96.0.16/clientip").unwrap();
    // Masqueraded to the node, so that the reply comes back through the DNAT.
    assert!(seen.starts_with(&format!("{GATEWAY}:")), "{seen}");
}

#[test]
fn kernel_iptables_one_endpoint_change_rewrites_only_that_service() {
    let topo = Topology::new("ipt-partial", 3);
    let mut proxy = Proxy::new(topo.node.path());
    for i in 0..20 {
        let name = format!("svc{i}");
        proxy
            .state
            .upsert_service(service("ns1", &name, &format!("10.96.1.{i}"), |_| {}));
        proxy.state.upsert_slice(pods_slice(&name, &[1, 2]));
    }
    let full = proxy.sync(true);
    assert!(full.transaction_lines > 20 * 5, "{full:?}");

    proxy.state.upsert_slice(pods_slice("svc7", &[1, 3]));
    let partial = proxy.sync(false);
    // KUBE-SVC + its two endpoints' chains, the deleted one's flush and -X, two headers,
    // two COMMITs: nothing of the other 19 Services, not even KUBE-SERVICES.
    assert!(partial.transaction_lines < 20, "{partial:?}");
    let seen = tally(&topo.client, "http://10.96.1.7/hostname", 30);
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["pod-1", "pod-3"],
        "{seen:?}"
    );
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    let sep_chains = nat.lines().filter(|l| l.starts_with(":KUBE-SEP-")).count();
    assert_eq!(
        sep_chains, 40,
        "the replaced endpoint's chain is gone:\n{nat}"
    );

    // A deleted Service leaves nothing behind.
    let web = podnet_k8s_model::ServiceName::new("ns1", "svc7");
    proxy.state.remove_service(&web);
    proxy.sync(false);
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    assert!(!nat.contains("ns1/svc7:"), "{nat}");
    assert_eq!(
        nat.lines().filter(|l| l.starts_with(":KUBE-SEP-")).count(),
        38
    );
}

#[test]
fn kernel_iptables_restart_keeps_established_connections_and_drops_stale_rules() {
    use std::io::{Read, Write};
    let topo = Topology::new("ipt-restart", 2);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.11", |_| {}));
    proxy.state.upsert_slice(pods_slice("web", &[1, 2]));
    proxy
        .state
        .upsert_service(service("ns1", "gone", "10.96.0.17", |_| {}));
    proxy.state.upsert_slice(pods_slice("gone", &[1]));
    proxy.sync(true);

    // An HTTP/1.1 keep-alive connection from the client, opened inside its namespace.
    let mut conn = podnet_netns::run_in(topo.client.path(), || {
        std::net::TcpStream::connect_timeout(
            &"10.96.0.11:80".parse().unwrap(),
            Duration::from_secs(3),
        )
    })
    .unwrap()
    .unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let ask = |conn: &mut std::net::TcpStream| -> String {
        conn.write_all(b"GET /hostname HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = conn
            .read(&mut buf)
            .expect("answer on the established connection");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = ask(&mut conn);
    let backend = first.lines().last().unwrap_or_default().to_owned();
    assert!(backend.starts_with("pod-"), "{first}");

    // The agent goes away; meanwhile a Service is deleted. A new agent starts from scratch.
    drop(proxy);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.11", |_| {}));
    proxy.state.upsert_slice(pods_slice("web", &[1, 2]));
    proxy.sync(true);

    let again = ask(&mut conn);
    assert!(
        again.ends_with(&backend),
        "same connection, same backend: {again}"
    );
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    assert!(!nat.contains("ns1/gone"), "stale rules left:\n{nat}");
}

#[test]
fn kernel_iptables_cleanup_leaves_no_trace_and_other_rules_alone() {
    let topo = Topology::new("ipt-cleanup", 1);
    topo.node.exec(&[
        "iptables-nft",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "10.9.0.0/16",
        "-j",
        "MASQUERADE",
    ]);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.11", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30011);
        }));
    proxy.state.upsert_slice(pods_slice("web", &[1]));
    proxy.sync(true);
    assert!(topo.node.exec(&["iptables-nft-save"]).contains("KUBE-SVC-"));

    podnet_agent_proxy_iptables::cleanup_iptables(Some(topo.node.path())).unwrap();
    let saved = topo.node.exec(&["iptables-nft-save"]);
    assert!(!saved.contains("KUBE-"), "{saved}");
    assert!(
        saved.contains("-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE"),
        "{saved}"
    );
    // Cleaning up the legacy backend did not create its tables.
    let (_, _, stderr) = topo.node.try_exec(&["iptables-nft-save"]);
    assert!(!stderr.contains("legacy tables present"), "{stderr}");
    // Idempotent.
    podnet_agent_proxy_iptables::cleanup_iptables(Some(topo.node.path())).unwrap();
    assert!(Topology::curl(&topo.client, &format!("http://{NODE_IP}:30011/")).is_err());
}

#[test]
fn kernel_iptables_every_feature_fixture_is_accepted_by_the_kernel() {
    let ns = podnet_test_util::Netns::new("ipt-golden");
    let mut proxy = Proxy::new(ns.path());
    let (services, slices) = fixture::every_feature();
    for s in services {
        proxy.state.upsert_service(s);
    }
    for s in slices {
        proxy.state.upsert_slice(s);
    }
    let stats = proxy.sync(true);
    let saved = ns.exec(&["iptables-nft-save"]);
    let kube_chains = saved.lines().filter(|l| l.starts_with(":KUBE-")).count();
    assert_eq!(kube_chains, stats.chains, "{saved}");
    let rules = saved.lines().filter(|l| l.starts_with("-A KUBE-")).count();
    assert_eq!(rules, stats.rules, "{saved}");
    // The jumps from the built-in chains, once each, also after another full sync.
    proxy.sync(true);
    let saved = ns.exec(&["iptables-nft-save", "-t", "nat"]);
    for (from, to) in [
        ("PREROUTING", "KUBE-SERVICES"),
        ("OUTPUT", "KUBE-SERVICES"),
        ("POSTROUTING", "KUBE-POSTROUTING"),
    ] {
        let jumps = saved
            .lines()
            .filter(|l| l.starts_with(&format!("-A {from} ")) && l.ends_with(&format!("-j {to}")))
            .count();
        assert_eq!(jumps, 1, "{from} → {to}:\n{saved}");
    }
}

#[test]
fn kernel_ipvs_mode_is_refused_naming_the_missing_kernel_feature() {
    let ns = podnet_test_util::Netns::new("ipvs-refuse");
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        assert_eq!(
            podnet_agent_proxy_iptables::ipvs_available(Some(ns.path())),
            Ok(())
        );
        return;
    }
    let reason = podnet_agent_proxy_iptables::ipvs_available(Some(ns.path())).unwrap_err();
    assert!(
        reason.contains("CONFIG_IP_VS") && reason.contains("ip_vs"),
        "{reason}"
    );
}

#[test]
fn kernel_new_iptables_picks_nf_tables_and_serves_node_ports_on_chosen_addresses_only() {
    let topo = Topology::new("ipt-npaddr", 1);
    let node = fixture::node();
    let cidrs =
        podnet_agent_proxy::NodePortAddressConfig::Cidrs(vec!["172.18.0.0/24".parse().unwrap()]);
    let backend =
        podnet_agent_proxy_iptables::new_iptables(Some(topo.node.path()), cidrs, &node).unwrap();
    let mut proxy = Proxy::new(topo.node.path());
    proxy.backend = backend;
    proxy
        .state
        .upsert_service(service("ns1", "np", "10.96.0.14", |s| {
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30014);
        }));
    proxy.state.upsert_slice(pods_slice("np", &[1]));
    proxy.sync(true);

    assert!(Topology::curl(&topo.client, &format!("http://{NODE_IP}:30014/hostname")).is_ok());
    // The bridge address is local too, but outside --nodeport-addresses.
    assert!(Topology::curl(&topo.client, &format!("http://{GATEWAY}:30014/hostname")).is_err());
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    assert!(nat.contains(&format!("-d {NODE_IP}/32")), "{nat}");
}

#[test]
fn kernel_ipvs_mode_sets_and_rules_are_accepted_and_cleaned_up() {
    use podnet_agent_proxy_iptables::ipvs::{IpvsConfig, render_ipvs};
    let ns = podnet_test_util::Netns::new("ipvs-sets");
    let (services, slices) = fixture::every_feature();
    let plan = plan::plan_of(&fixture::node(), services, slices);
    let config = IpvsConfig::new(podnet_k8s_model::AddressFamily::V4, vec![ip("172.18.0.2")]);
    let rendered = render_ipvs(&config, &fixture::node(), &plan);

    // The halves this kernel has: ipsets, and the iptables rules that match them.
    podnet_iptables::Ipset::new(Some(ns.path()))
        .restore(&rendered.ipset_script())
        .unwrap();
    podnet_iptables::Iptables::new(
        Some(ns.path()),
        podnet_iptables::Family::V4,
        podnet_iptables::Variant::Nft,
    )
    .restore(&rendered.iptables.dump())
    .unwrap();
    let saved = ns.exec(&["ipset", "save"]);
    assert!(
        saved.contains("add KUBE-CLUSTER-IP 10.96.0.11,tcp:80"),
        "{saved}"
    );
    assert!(saved.contains("add KUBE-NODE-PORT-TCP 30014"), "{saved}");
    let nat = ns.exec(&["iptables-nft-save", "-t", "nat"]);
    assert!(
        nat.contains("--match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE"),
        "{nat}"
    );

    podnet_agent_proxy_iptables::cleanup_ipvs(Some(ns.path())).unwrap();
    assert_eq!(ns.exec(&["ipset", "list", "-n"]).trim(), "");
    assert!(!ns.exec(&["iptables-nft-save"]).contains("KUBE-"));
    podnet_agent_proxy_iptables::cleanup_ipvs(Some(ns.path())).unwrap();
}

#[test]
fn kernel_iptables_a_full_sync_written_in_batches_programs_every_service() {
    let topo = Topology::new("ipt-batches", 3);
    let mut proxy = Proxy::new(topo.node.path());
    // 300 Services × (KUBE-SVC + 3 KUBE-SEP): past one batch of port chains.
    for i in 0..300 {
        let name = format!("svc{i}");
        let cip = format!("10.96.{}.{}", 10 + i / 200, i % 200 + 1);
        proxy
            .state
            .upsert_service(service("ns1", &name, &cip, |_| {}));
        proxy.state.upsert_slice(pods_slice(&name, &[1, 2, 3]));
    }
    let stats = proxy.sync(true);
    assert_eq!(stats.chains, 1200 + 9, "{stats:?}");
    let nat = topo.node.exec(&["iptables-nft-save", "-t", "nat"]);
    assert_eq!(
        nat.lines().filter(|l| l.starts_with(":KUBE-SEP-")).count(),
        900
    );
    for cip in ["10.96.10.1", "10.96.10.200", "10.96.11.100"] {
        let answer = Topology::curl(&topo.client, &format!("http://{cip}/hostname")).unwrap();
        assert!(answer.starts_with("pod-"), "{cip}: {answer}");
    }
}

#[test]
fn kernel_iptables_load_balancer_ip_honours_source_ranges() {
    let topo = Topology::new("ipt-lb", 1);
    let mut proxy = Proxy::new(topo.node.path());
    let lb = |name: &str, vip: &str, node_port: u16, range: &str| {
        service("ns1", name, "10.96.0.0", |s| {
            s.cluster_ips = vec![ip(&format!("10.96.0.{}", node_port % 100))];
            s.type_ = ServiceType::LoadBalancer;
            s.ports[0].node_port = Some(node_port);
            s.load_balancer_ips = vec![ip(vip)];
            s.load_balancer_source_ranges = vec![range.parse().unwrap()];
        })
    };
    proxy
        .state
        .upsert_service(lb("open", "172.18.255.200", 30020, "172.18.0.0/24"));
    proxy.state.upsert_slice(pods_slice("open", &[1]));
    proxy
        .state
        .upsert_service(lb("closed", "172.18.255.201", 30021, "192.0.2.0/24"));
    proxy.state.upsert_slice(pods_slice("closed", &[1]));
    proxy.sync(true);

    let answer = Topology::curl(&topo.client, "http://172.18.255.200/hostname").unwrap();
    assert_eq!(answer, "pod-1");
    // Outside the source ranges: dropped (KUBE-PROXY-FIREWALL), not answered.
    let err = Topology::curl(&topo.client, "http://172.18.255.201/hostname").unwrap_err();
    assert_eq!(err.0, 28, "{err:?}");
    let filter = topo.node.exec(&["iptables-nft-save", "-c", "-t", "filter"]);
    let dropped = filter
        .lines()
        .find(|l| l.contains("-A KUBE-PROXY-FIREWALL") && l.contains("172.18.255.201"))
        .unwrap_or_else(|| panic!("{filter}"));
    assert!(
        !dropped.starts_with("[0:"),
        "not dropped by KUBE-PROXY-FIREWALL: {dropped}"
    );
}

#[test]
fn kernel_iptables_terminating_endpoints_serve_when_none_is_ready() {
    let topo = Topology::new("ipt-term", 2);
    let mut proxy = Proxy::new(topo.node.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.18", |_| {}));
    let eps = vec![
        fixture::terminating(&pod_ip(1).to_string(), NODE),
        podnet_k8s_model::SliceEndpoint {
            serving: false,
            ..fixture::terminating(&pod_ip(2).to_string(), NODE)
        },
    ];
    proxy
        .state
        .upsert_slice(slice("ns1", "web", 1, eps, |_| {}));
    proxy.sync(true);

    // Only the one that still serves.
    let seen = tally(&topo.client, "http://10.96.0.18/hostname", 10);
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["pod-1"], "{seen:?}");
    // A ready endpoint appears: the terminating one is no longer used.
    proxy.state.upsert_slice(slice(
        "ns1",
        "web",
        1,
        vec![
            fixture::terminating(&pod_ip(1).to_string(), NODE),
            endpoint(&pod_ip(2).to_string(), NODE),
        ],
        |_| {},
    ));
    proxy.sync(false);
    let seen = tally(&topo.client, "http://10.96.0.18/hostname", 10);
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["pod-2"], "{seen:?}");
}

#[test]
fn kernel_iptables_dual_stack_writes_each_family_with_its_own_tool() {
    let ns = podnet_test_util::Netns::new("ipt-dual");
    let mut proxy = Proxy::new(ns.path());
    let mut node = fixture::node();
    node.node_ips.push(ip("fd12::2"));
    node.cluster_cidrs.push("fd00:244::/56".parse().unwrap());
    proxy.backend = podnet_agent_proxy_iptables::new_iptables(
        Some(ns.path()),
        podnet_agent_proxy::NodePortAddressConfig::All,
        &node,
    )
    .unwrap();
    proxy.node = node;
    proxy
        .state
        .upsert_service(service("ns1", "dual", "10.96.0.30", |s| {
            s.cluster_ips.push(ip("fd00:96::30"));
            s.type_ = ServiceType::NodePort;
            s.ports[0].node_port = Some(30030);
        }));
    proxy.state.upsert_slice(pods_slice("dual", &[1]));
    proxy.state.upsert_slice(slice(
        "ns1",
        "dual",
        2,
        vec![endpoint("fd00:244:0:1::2", NODE)],
        |_| {},
    ));
    proxy.sync(true);

    let v4 = ns.exec(&["iptables-nft-save", "-t", "nat"]);
    let v6 = ns.exec(&["ip6tables-nft-save", "-t", "nat"]);
    assert!(
        v4.contains("--to-destination 10.244.1.2:8080") && !v4.contains("fd00"),
        "{v4}"
    );
    assert!(
        v6.contains("--to-destination [fd00:244:0:1::2]:8080"),
        "{v6}"
    );
    assert!(v6.contains("! -d ::1/128"), "{v6}");
    podnet_agent_proxy_iptables::cleanup_iptables(Some(ns.path())).unwrap();
    assert!(!ns.exec(&["ip6tables-nft-save"]).contains("KUBE-"));
}

#[test]
fn kernel_iptables_a_new_cluster_cidr_rewrites_the_masquerade_rules() {
    use podnet_agent_proxy::Backend;
    let ns = podnet_test_util::Netns::new("ipt-node");
    let mut proxy = Proxy::new(ns.path());
    proxy
        .state
        .upsert_service(service("ns1", "web", "10.96.0.11", |_| {}));
    proxy.state.upsert_slice(pods_slice("web", &[1]));
    proxy.sync(true);
    let mut node = fixture::node();
    node.cluster_cidrs = vec!["10.245.0.0/16".parse().unwrap()];
    proxy.backend.set_node(&node);
    proxy.node = node;
    // Nothing else changed: a partial sync, which the backend turns into a full one.
    let stats = proxy.sync(false);
    assert!(stats.transaction_lines > 10, "{stats:?}");
    let nat = ns.exec(&["iptables-nft-save", "-t", "nat"]);
    assert!(
        nat.contains("! -s 10.245.0.0/16 ") && !nat.contains("10.244.0.0/16"),
        "{nat}"
    );
}
