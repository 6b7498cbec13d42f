//! Upstream's NetworkPolicy e2e model (test/e2e/network/netpol): namespaces x, y, z labelled
//! `ns=<name>` (and `kubernetes.io/metadata.name`), each with pods a, b, c labelled
//! `pod=<name>` serving 80 and 81 over TCP, UDP and SCTP under the container port names
//! `serve-<port>-<proto>`. Pods spread over two nodes, so rendering is tested for
//! same-node and cross-node paths.

use std::net::IpAddr;

use crate::cluster::Cluster;
use crate::model::{ContainerPort, Namespace, ObjectRef, Pod, Protocol};
use crate::selector::Labels;

pub const NAMESPACES: [&str; 3] = ["x", "y", "z"];
pub const PODS: [&str; 3] = ["a", "b", "c"];
pub const PORTS: [u16; 2] = [80, 81];
pub const PROTOCOLS: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];
pub const NODES: [&str; 2] = ["node-1", "node-2"];

/// Node `i`'s address (172.18.0.(i+2), the lab's convention).
pub fn node_ip(i: usize) -> IpAddr {
    IpAddr::from([172, 18, 0, 2 + i as u8])
}

/// The model: pod `n` of namespace `m` (both from 0) is on node `(3m + n) % 2`, address
/// 10.244.<node+1>.<10 + 3m + n>.
pub fn upstream_model() -> Cluster {
    let mut c = Cluster::default();
    for (i, node) in NODES.iter().enumerate() {
        c.nodes.insert((*node).to_owned(), vec![node_ip(i + 1)]);
    }
    for (m, ns) in NAMESPACES.iter().enumerate() {
        c.add_namespace(Namespace {
            name: (*ns).to_owned(),
            labels: labels(&[("ns", ns), ("kubernetes.io/metadata.name", ns)]),
        });
        for (n, name) in PODS.iter().enumerate() {
            let index = 3 * m + n;
            let node = index % 2;
            c.add_pod(Pod {
                id: ObjectRef::new(ns, name),
                labels: labels(&[("pod", name)]),
                ip: Some(IpAddr::from([10, 244, node as u8 + 1, 10 + index as u8])),
                node: Some(NODES[node].to_owned()),
                host_network: false,
                ports: serving_ports(),
            });
        }
    }
    c
}

/// The address of pod `ns/name` in `cluster`.
pub fn ip_of(cluster: &Cluster, ns: &str, name: &str) -> IpAddr {
    cluster.pods[&ObjectRef::new(ns, name)]
        .ip
        .expect("fixture pods have addresses")
}

fn serving_ports() -> Vec<ContainerPort> {
    let mut ports = Vec::new();
    for port in PORTS {
        for protocol in PROTOCOLS {
            ports.push(ContainerPort {
                name: format!("serve-{port}-{}", protocol.to_string().to_lowercase()),
                protocol,
                port,
            });
        }
    }
    ports
}

pub fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An expected truth table over the model's pods ("x/a" …), as upstream's `Reachability`:
/// a default, then overrides by predicates over the source and destination pod names. A pod
/// always reaches itself (loopback never crosses a filter).
#[derive(Clone, Debug)]
pub struct Reachability {
    pods: Vec<String>,
    expected: std::collections::BTreeMap<(String, String), bool>,
}

impl Reachability {
    pub fn new(default: bool) -> Self {
        let pods: Vec<String> = NAMESPACES
            .iter()
            .flat_map(|ns| PODS.iter().map(move |p| format!("{ns}/{p}")))
            .collect();
        let mut expected = std::collections::BTreeMap::new();
        for from in &pods {
            for to in &pods {
                expected.insert((from.clone(), to.clone()), default || from == to);
            }
        }
        Self { pods, expected }
    }

    /// Every pod pair whose source and destination match the predicates gets `allowed`.
    pub fn expect(
        &mut self,
        from: impl Fn(&str) -> bool,
        to: impl Fn(&str) -> bool,
        allowed: bool,
    ) -> &mut Self {
        for ((f, t), v) in self.expected.iter_mut() {
            if f != t && from(f) && to(t) {
                *v = allowed;
            }
        }
        self
    }

    pub fn pods(&self) -> &[String] {
        &self.pods
    }

    pub fn expected(&self, from: &str, to: &str) -> bool {
        self.expected[&(from.to_owned(), to.to_owned())]
    }

    /// `Err` with both matrices (rows: from, columns: to; `.` allowed, `X` denied, mismatches
    /// marked) when `observed` differs anywhere.
    pub fn compare(&self, observed: impl Fn(&str, &str) -> bool) -> Result<(), String> {
        let mut got = std::collections::BTreeMap::new();
        for from in &self.pods {
            for to in &self.pods {
                got.insert((from.clone(), to.clone()), observed(from, to));
            }
        }
        if got == self.expected {
            return Ok(());
        }
        Err(format!(
            "expected:\n{}observed:\n{}",
            self.matrix(&self.expected, None),
            self.matrix(&got, Some(&self.expected))
        ))
    }

    fn matrix(
        &self,
        m: &std::collections::BTreeMap<(String, String), bool>,
        against: Option<&std::collections::BTreeMap<(String, String), bool>>,
    ) -> String {
        use std::fmt::Write;
        let mut out = format!("{:5}", "");
        for to in &self.pods {
            let _ = write!(out, "{to:5}");
        }
        out.push('\n');
        for from in &self.pods {
            let _ = write!(out, "{from:5}");
            for to in &self.pods {
                let k = (from.clone(), to.clone());
                let mark = if m[&k] { "." } else { "X" };
                let wrong = against.is_some_and(|a| a[&k] != m[&k]);
                let _ = write!(
                    out,
                    "{:5}",
                    if wrong {
                        format!("{mark}!")
                    } else {
                        mark.to_owned()
                    }
                );
            }
            out.push('\n');
        }
        out
    }
}

/// network-policy-api's conformance model (conformance/base/manifests.yaml): the houses'
/// namespaces `network-policy-conformance-<house>` labelled `conformance-house=<house>`
/// (and `kubernetes.io/metadata.name`), two pods `<student>-0`/`-1` in each labelled the
/// same, serving TCP 80 (`web`), 8080, UDP 53 (`dns`), 5353 and SCTP 9003, 9005. Pods
/// alternate between the two nodes; the nodes are labelled `kubernetes.io/hostname`.
pub fn houses() -> Cluster {
    let mut c = Cluster::default();
    for (i, node) in NODES.iter().enumerate() {
        c.nodes.insert((*node).to_owned(), vec![node_ip(i + 1)]);
        c.node_labels.insert(
            (*node).to_owned(),
            labels(&[("kubernetes.io/hostname", node)]),
        );
    }
    for (h, (house, student)) in HOUSES.iter().enumerate() {
        let ns = house_namespace(house);
        c.add_namespace(Namespace {
            labels: labels(&[
                ("conformance-house", house),
                ("kubernetes.io/metadata.name", &ns),
            ]),
            name: ns.clone(),
        });
        for n in 0..2 {
            let index = 2 * h + n;
            let node = index % 2;
            c.add_pod(Pod {
                id: ObjectRef::new(&ns, &format!("{student}-{n}")),
                labels: labels(&[("conformance-house", house)]),
                ip: Some(IpAddr::from([10, 244, node as u8 + 1, 20 + index as u8])),
                node: Some(NODES[node].to_owned()),
                host_network: false,
                ports: vec![
                    ContainerPort {
                        name: "web".into(),
                        protocol: Protocol::Tcp,
                        port: 80,
                    },
                    ContainerPort {
                        name: "dns".into(),
                        protocol: Protocol::Udp,
                        port: 53,
                    },
                ],
            });
        }
    }
    c
}

/// The houses and one student of each (conformance/base/manifests.yaml).
pub const HOUSES: [(&str, &str); 4] = [
    ("gryffindor", "harry-potter"),
    ("slytherin", "draco-malfoy"),
    ("hufflepuff", "cedric-diggory"),
    ("ravenclaw", "luna-lovegood"),
];

/// `network-policy-conformance-<house>`.
pub fn house_namespace(house: &str) -> String {
    format!("network-policy-conformance-{house}")
}
