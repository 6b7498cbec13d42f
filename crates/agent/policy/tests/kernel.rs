//! The rendered table in the real kernel, with real packets: a node namespace with a bridge
//! and pods x/a, x/b, x/c on it (same-node traffic is bridged, seen by the forward hook
//! through br_netfilter), and a pod y/r behind a routed link (as another node's pod, or an
//! address outside the cluster). For each set of policies every probe — TCP 80, TCP 81,
//! UDP 80 between every two of them, and from the node itself — must pass exactly when the
//! evaluator says so. Each test builds its own namespaces, removed on drop.

mod support;

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use podnet_agent_policy::model::{ContainerPort, Namespace, ObjectRef, Pod, Protocol};
use podnet_agent_policy::{Cluster, Enforcer, Flow, NetworkPolicy, evaluate, fixture};
use podnet_nft::Nft;
use podnet_test_util::Netns;
use serde_json::json;
use support::policy;

/// A probe that gets no answer in this long is taken as dropped (an allowed one answers in
/// microseconds on a veth).
const PROBE_TIMEOUT: Duration = Duration::from_millis(400);
const NODE: &str = "n1";
const GATEWAY: &str = "10.244.1.1";

struct Lab {
    node: Netns,
    /// (pod, its namespace), x/a x/b x/c then y/r.
    pods: Vec<(Pod, Netns)>,
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

impl Lab {
    fn new(tag: &str) -> Self {
        let node = Netns::new(&format!("{tag}-n"));
        node.exec(&["ip", "link", "add", "cbr0", "type", "bridge"]);
        node.exec(&["ip", "addr", "add", &format!("{GATEWAY}/24"), "dev", "cbr0"]);
        node.exec(&["ip", "link", "set", "cbr0", "up"]);
        node.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        node.exec(&["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"]);
        let mut pods = Vec::new();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            let ns = Netns::new(&format!("{tag}-{name}"));
            let host = format!("veth-{name}");
            veth(&node, &host, &ns);
            node.exec(&["ip", "link", "set", &host, "master", "cbr0"]);
            let addr = format!("10.244.1.{}", i + 2);
            ns.exec(&["ip", "addr", "add", &format!("{addr}/24"), "dev", "eth0"]);
            ns.exec(&["ip", "route", "add", "default", "via", GATEWAY]);
            pods.push((pod("x", name, &addr, NODE), ns));
        }
        // y/r behind a routed link: another node's pod as far as this node can tell.
        let r = Netns::new(&format!("{tag}-r"));
        veth(&node, "veth-r", &r);
        node.exec(&["ip", "addr", "add", "10.244.2.1/24", "dev", "veth-r"]);
        r.exec(&["ip", "addr", "add", "10.244.2.2/24", "dev", "eth0"]);
        r.exec(&["ip", "route", "add", "default", "via", "10.244.2.1"]);
        pods.push((pod("y", "r", "10.244.2.2", "n2"), r));
        for (_, ns) in &pods {
            serve(ns);
        }
        Self { node, pods }
    }

    fn cluster(&self, policies: &[NetworkPolicy]) -> Cluster {
        let mut c = Cluster::default();
        for ns in ["x", "y"] {
            c.add_namespace(Namespace {
                name: ns.to_owned(),
                labels: fixture::labels(&[("ns", ns)]),
            });
        }
        for (p, _) in &self.pods {
            c.add_pod(p.clone());
        }
        c.nodes.insert(NODE.to_owned(), vec![ip(GATEWAY)]);
        for p in policies {
            c.add_policy(p.clone());
        }
        c
    }

    /// Applies `policies` through the `nft` executor and checks every probe against the
    /// evaluator; returns (allowed, denied) counts so a test can tell it saw both.
    fn check(&self, enforcer: &mut Enforcer<Nft>, policies: &[NetworkPolicy]) -> (usize, usize) {
        let c = self.cluster(policies);
        enforcer.sync(&c).expect("sync");
        self.verify(&c)
    }

    /// Checks every probe against the evaluator's answer for `c`, without syncing.
    fn verify(&self, c: &Cluster) -> (usize, usize) {
        let mut sources: Vec<(IpAddr, &Netns)> = self
            .pods
            .iter()
            .map(|(p, ns)| (p.ip.unwrap(), ns))
            .collect();
        sources.push((ip(GATEWAY), &self.node));
        let (mut allowed, mut denied, mut wrong) = (0, 0, Vec::new());
        for (src, from) in &sources {
            for (dst_pod, _) in &self.pods {
                let dst = dst_pod.ip.unwrap();
                if *src == dst {
                    continue;
                }
                for (protocol, port) in [
                    (Protocol::Tcp, 80),
                    (Protocol::Tcp, 81),
                    (Protocol::Udp, 80),
                ] {
                    let flow = Flow {
                        src: *src,
                        dst,
                        protocol,
                        port,
                    };
                    let decision = evaluate(c, &flow);
                    let got = probe(from, dst, protocol, port);
                    if got != decision.allowed() {
                        wrong.push(format!(
                            "{src} → {dst} {protocol}/{port}: kernel {got}, evaluator: {decision}"
                        ));
                    }
                    if got { allowed += 1 } else { denied += 1 }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "kernel and evaluator disagree:\n{}",
            wrong.join("\n")
        );
        (allowed, denied)
    }
}

fn pod(ns: &str, name: &str, addr: &str, node: &str) -> Pod {
    Pod {
        id: ObjectRef::new(ns, name),
        labels: fixture::labels(&[("pod", name)]),
        ip: Some(ip(addr)),
        node: Some(node.to_owned()),
        host_network: false,
        ports: vec![
            ContainerPort {
                name: "http".into(),
                protocol: Protocol::Tcp,
                port: 80,
            },
            ContainerPort {
                name: "alt".into(),
                protocol: Protocol::Tcp,
                port: 81,
            },
            ContainerPort {
                name: "dns".into(),
                protocol: Protocol::Udp,
                port: 80,
            },
        ],
    }
}

fn veth(node: &Netns, host: &str, pod: &Netns) {
    node.exec(&[
        "ip",
        "link",
        "add",
        host,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        pod.name(),
    ]);
    node.exec(&["ip", "link", "set", host, "up"]);
    pod.exec(&["ip", "link", "set", "eth0", "up"]);
}

/// TCP 80 and 81 (accept, close) and a UDP echo on 80, on threads; their sockets belong to
/// `ns` (a socket stays in the namespace it was made in).
fn serve(ns: &Netns) {
    let (t80, t81, u80) = podnet_netns::run_in(ns.path(), || {
        (
            TcpListener::bind("0.0.0.0:80").unwrap(),
            TcpListener::bind("0.0.0.0:81").unwrap(),
            UdpSocket::bind("0.0.0.0:80").unwrap(),
        )
    })
    .unwrap();
    for l in [t80, t81] {
        std::thread::spawn(move || l.incoming().for_each(drop));
    }
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok((n, peer)) = u80.recv_from(&mut buf) {
            let _ = u80.send_to(&buf[..n], peer);
        }
    });
}

/// Whether a connection from `from` to `dst:port` gets through (and, for UDP, its reply back).
fn probe(from: &Netns, dst: IpAddr, protocol: Protocol, port: u16) -> bool {
    let to = SocketAddr::new(dst, port);
    podnet_netns::run_in(from.path(), move || match protocol {
        Protocol::Tcp => TcpStream::connect_timeout(&to, PROBE_TIMEOUT).is_ok(),
        Protocol::Udp => {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_read_timeout(Some(PROBE_TIMEOUT)).unwrap();
            s.send_to(b"probe", to).unwrap();
            let mut buf = [0u8; 64];
            match s.recv(&mut buf) {
                Ok(_) => true,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
                Err(e) => panic!("udp probe: {e}"),
            }
        }
        Protocol::Sctp => unreachable!("not probed here"),
    })
    .unwrap()
}

fn enforcer(lab: &Lab) -> Enforcer<Nft> {
    Enforcer::new(Nft::new(Some(lab.node.path())), NODE)
}

#[test]
fn kernel_default_deny_ingress_drops_bridged_and_routed_traffic_but_not_from_the_node() {
    let lab = Lab::new("np-deny");
    let mut e = enforcer(&lab);
    let (allowed, denied) = lab.check(&mut e, &[]);
    assert_eq!(denied, 0, "no policy: nothing dropped");
    assert!(allowed > 0);
    let deny = policy("x", "deny", json!({"podSelector": {}}));
    let (allowed, denied) = lab.check(&mut e, &[deny]);
    // a, b, c each unreachable from the 3 other pods on 3 probes; the node still reaches them,
    // and they still reach y/r (replies pass as established).
    assert_eq!(denied, 3 * 3 * 3);
    assert!(allowed >= 3 * 3 + 3 * 3);
}

#[test]
fn kernel_pod_selector_named_port_and_end_port_rules() {
    let lab = Lab::new("np-ports");
    let mut e = enforcer(&lab);
    let policies = [
        policy(
            "x",
            "a-from-b-http",
            json!({"podSelector": {"matchLabels": {"pod": "a"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}],
                                "ports": [{"port": "http"}]}]}),
        ),
        policy(
            "x",
            "b-from-y-range",
            json!({"podSelector": {"matchLabels": {"pod": "b"}},
                   "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}],
                                "ports": [{"port": 81, "endPort": 90}, {"protocol": "UDP"}]}]}),
        ),
    ];
    let (allowed, denied) = lab.check(&mut e, &policies);
    assert!(allowed > 0 && denied > 0);
}

#[test]
fn kernel_egress_ip_block_with_except_and_removal() {
    let lab = Lab::new("np-cidr");
    let mut e = enforcer(&lab);
    let policies = [policy(
        "x",
        "c-egress",
        json!({"podSelector": {"matchLabels": {"pod": "c"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.2/32"]}}],
                           "ports": [{"protocol": "TCP", "port": 80}]}]}),
    )];
    let (_, denied) = lab.check(&mut e, &policies);
    // c → a (excepted) on all 3 probes, c → b and c → r on TCP 81 and UDP 80.
    assert_eq!(denied, 3 + 2 * 2);
    let (_, denied) = lab.check(&mut e, &[]);
    assert_eq!(denied, 0, "the policy deleted, its rules are gone");
}

/// The Enforcer diffs against what it applied last, not against the kernel: a change made
/// behind its back goes unseen by an incremental sync and is repaired by the full resync;
/// an apply that fails (the table deleted behind its back) makes the next sync read back.
#[test]
fn kernel_resync_repairs_changes_behind_the_enforcers_back() {
    let lab = Lab::new("np-resync");
    let mut e = enforcer(&lab);
    let (a, b) = (&lab.pods[0].0, &lab.pods[1].1);
    let b_to_a = || probe(b, a.ip.unwrap(), Protocol::Tcp, 80);
    let deny = policy("x", "deny", json!({"podSelector": {}}));
    let c = lab.cluster(std::slice::from_ref(&deny));
    e.sync(&c).expect("first sync");
    assert!(!b_to_a(), "deny-all applied");

    let flush_a = [
        "nft",
        "flush",
        "chain",
        "inet",
        "podnet-policy",
        "pod/x/a/ingress",
    ];
    lab.node.exec(&flush_a);
    let report = e.sync(&c).expect("incremental sync");
    assert_eq!(
        (report.ops, report.read_back),
        (0, false),
        "an incremental sync trusts what it applied"
    );
    assert!(b_to_a(), "a's isolation flushed behind the enforcer's back");
    let report = e.resync(&c).expect("full resync");
    assert!(report.read_back && report.ops > 0, "{report:?}");
    assert!(!b_to_a(), "repaired by the resync");

    // Incremental again (every probe checked against the evaluator): b may reach a.
    let allow = policy(
        "x",
        "a-from-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    let (_, denied) = lab.check(&mut e, &[deny.clone(), allow]);
    assert_eq!(denied, 3 * 3 * 3 - 3);

    lab.node
        .exec(&["nft", "delete", "table", "inet", "podnet-policy"]);
    e.sync(&c)
        .expect_err("deleting what the kernel no longer holds fails");
    let report = e.sync(&c).expect("sync after a failure");
    assert!(report.read_back && report.ops > 0, "{report:?}");
    assert!(!b_to_a(), "the table is back");
}

/// ClusterNetworkPolicy with real packets: an Admin policy with a Deny, a Pass and an
/// Accept (and an egress Deny of a network), a NetworkPolicy isolating x/a, a Baseline Deny
/// for the pods no NetworkPolicy isolates. Every probe must pass exactly when the evaluator
/// says so, and the evaluator's verdicts show each action deciding somewhere.
#[test]
fn kernel_cluster_network_policy_accept_deny_and_pass_with_real_packets() {
    use podnet_agent_policy::cluster_policy::from_object;
    use podnet_agent_policy::{Tier, Verdict};

    let lab = Lab::new("cnp-act");
    let mut e = enforcer(&lab);
    let x = json!({"namespaces": {"matchLabels": {"ns": "x"}}});
    let pod = |name: &str| json!({"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": name}}}});
    let admin = from_object(&json!({"metadata": {"name": "guard"}, "spec": {
        "tier": "Admin", "priority": 10, "subject": x,
        "ingress": [
            {"name": "deny-y-80", "action": "Deny", "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}],
             "protocols": [{"tcp": {"destinationPort": {"number": 80}}}]},
            {"name": "pass-b", "action": "Pass", "from": [pod("b")]},
            {"name": "accept-c-81", "action": "Accept", "from": [pod("c")],
             "protocols": [{"tcp": {"destinationPort": {"range": {"start": 81, "end": 82}}}}]}],
        "egress": [
            {"name": "deny-node-2-udp", "action": "Deny", "to": [{"networks": ["10.244.2.0/24"]}],
             "protocols": [{"udp": {}}]}]}}))
    .unwrap();
    let baseline = from_object(&json!({"metadata": {"name": "x-apart"}, "spec": {
        "tier": "Baseline", "priority": 1, "subject": x,
        "ingress": [{"action": "Deny", "from": [x]}]}}))
    .unwrap();
    let np = policy(
        "x",
        "a-from-b-81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}],
                            "ports": [{"port": 81}]}]}),
    );
    let mut c = lab.cluster(&[np]);
    c.add_cluster_policy(admin).add_cluster_policy(baseline);
    e.sync(&c).expect("sync");
    let (allowed, denied) = lab.verify(&c);
    assert!(allowed > 0 && denied > 0);

    let ip = |i: usize| lab.pods[i].0.ip.unwrap();
    let ingress = |src: usize, dst: usize, protocol: Protocol, port: u16| {
        evaluate(
            &c,
            &Flow {
                src: ip(src),
                dst: ip(dst),
                protocol,
                port,
            },
        )
        .ingress
    };
    let (a, b, cc, r) = (0, 1, 2, 3);
    let tier = |v: &Verdict| match v {
        Verdict::Allowed(rule) | Verdict::DeniedBy(rule) => Some(rule.tier),
        _ => None,
    };
    let v = ingress(r, a, Protocol::Tcp, 80);
    assert!(
        v.denied() && tier(&v) == Some(Tier::Admin),
        "Admin Deny: {v}"
    );
    let v = ingress(cc, a, Protocol::Tcp, 81);
    assert!(
        !v.denied() && tier(&v) == Some(Tier::Admin),
        "Admin Accept beats the NetworkPolicy: {v}"
    );
    let v = ingress(b, a, Protocol::Tcp, 81);
    assert!(
        !v.denied() && tier(&v) == Some(Tier::NetworkPolicy),
        "Pass → NetworkPolicy: {v}"
    );
    let v = ingress(b, cc, Protocol::Tcp, 80);
    assert!(
        v.denied() && tier(&v) == Some(Tier::Baseline),
        "Pass → Baseline Deny: {v}"
    );
    let v = ingress(r, b, Protocol::Tcp, 81);
    assert!(!v.denied(), "no tier matches: {v}");
    let out = evaluate(
        &c,
        &Flow {
            src: ip(cc),
            dst: ip(r),
            protocol: Protocol::Udp,
            port: 80,
        },
    );
    assert!(out.egress.denied(), "egress Deny of a network: {out}");
}

/// Kubernetes-scale state in the kernel: 1000 pods on this node in 10 namespaces, 1000
/// policies (each isolating the pods of one `app` for ingress and allowing the next app's
/// pods on TCP 80). Applied whole, then a new pod is set elements only, applied in place.
/// Times are printed as an indication (debug build), never asserted.
#[test]
fn kernel_scale_1000_policies_and_1000_pods_update_incrementally() {
    use podnet_nft::transaction::Op;
    use podnet_nft::{Executor, diff};
    use std::time::Instant;

    let node = Netns::new("np-scale");
    let mut c = Cluster::default();
    for n in 0..10 {
        let name = format!("ns{n}");
        c.add_namespace(Namespace {
            labels: fixture::labels(&[("team", &name)]),
            name,
        });
    }
    for i in 0..1000u32 {
        let mut p = pod(
            &format!("ns{}", i % 10),
            &format!("p{i}"),
            &format!("10.244.{}.{}", 1 + i / 250, 2 + i % 250),
            NODE,
        );
        p.labels = fixture::labels(&[("app", &format!("app{}", i % 100))]);
        c.add_pod(p);
    }
    for i in 0..1000u32 {
        let app = format!("app{}", i % 100);
        let next = format!("app{}", (i + 1) % 100);
        c.add_policy(policy(
            &format!("ns{}", i % 10),
            &format!("np{i}"),
            json!({"podSelector": {"matchLabels": {"app": app}},
                   "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": next}}}],
                                "ports": [{"port": 80}]}]}),
        ));
    }
    let mut e = Enforcer::new(Nft::new(Some(node.path())), NODE);
    let started = Instant::now();
    let table = e.desired(&c);
    let rendered = started.elapsed();
    let report = e.sync(&c).expect("full apply");
    let applied = started.elapsed();
    assert!(
        report.rules >= 1000 && report.elements >= 1000,
        "{report:?}"
    );
    eprintln!(
        "1000 policies × 1000 pods: {} rules, {} elements; render {:?}, render + apply {:?} (debug build)",
        table.rule_count(),
        table.element_count(),
        rendered,
        applied
    );

    let mut extra = pod("ns3", "new", "10.244.9.9", NODE);
    extra.labels = fixture::labels(&[("app", "app7")]);
    c.add_pod(extra);
    let tx = diff(
        e.executor().dump(&table.id).unwrap().as_ref(),
        &e.desired(&c),
    );
    assert!(
        tx.ops.iter().all(|op| matches!(op, Op::AddElements { .. })),
        "a new pod is elements only, not rules: {:?}",
        tx.ops
            .iter()
            .filter(|op| !matches!(op, Op::AddElements { .. }))
            .collect::<Vec<_>>()
    );
    let started = Instant::now();
    let report = e.sync(&c).expect("incremental apply");
    let took = started.elapsed();
    assert!(!report.read_back, "diffed against the last apply");
    assert!(report.ops > 0);
    assert_eq!(e.sync(&c).expect("again").ops, 0, "nothing left to change");
    eprintln!(
        "one new pod: {} ops, render + diff + apply {:?} (debug build)",
        report.ops, took
    );
}
