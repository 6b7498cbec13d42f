//! NetworkPolicy enforced by every node's `podnet agent`, on upstream's e2e model (namespaces
//! x, y, z; pods a, b, c serving 80 and 81 over TCP and UDP with agnhost serve-hostname):
//! probes with agnhost's `connect` from every pod to every pod, compared with upstream's
//! truth table for each case (test/e2e/network/netpol/network_policy.go, cases named after
//! upstream's). One lab; each case applies its policies, waits for the table to hold, and
//! deletes them again (which must restore full connectivity: "should stop enforcing
//! policies after they are deleted"). ClusterNetworkPolicy (policy.networking.k8s.io/v1alpha2,
//! its CRD installed by `lab up`) on the same lab: the Admin tier before NetworkPolicy in
//! priority order, a Pass handing over to it, the Baseline tier only where no NetworkPolicy
//! selects.

#[path = "lab/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use podnet_agent_policy::fixture::Reachability;
use support::{Lab, PODNET, eventually, manifest};

const NAMESPACES: &str = "tests/lab/manifests/netpol-namespaces.yaml";
const MODEL: &str = "tests/lab/manifests/netpol-model.yaml";
/// How long enforcement may take to reach every node before a case fails.
const ENFORCED_WITHIN: Duration = Duration::from_secs(60);

struct Model {
    lab: Lab,
    tmp: tempfile::TempDir,
    /// "x/a" → pod IP.
    ips: BTreeMap<String, String>,
}

impl Model {
    /// A lab of kind's default layout with `networking` (kind's keys and podnet's
    /// `routingMode`), running the model.
    fn up(tag: &str, networking: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let config = manifest(
            tmp.path(),
            "kind.yaml",
            &format!(
                "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
                 - role: worker\n- role: worker\nnetworking:\n{networking}"
            ),
        );
        let lab = Lab::up(
            tag,
            &["--config", config.to_str().unwrap(), "-f", NAMESPACES],
        );
        // Pods are admitted once their namespace's default ServiceAccount exists.
        for ns in ["x", "y", "z"] {
            eventually(60, "the default ServiceAccount", || {
                lab.kubectl(&["get", "serviceaccount", "default", "-n", ns])
                    .status
                    .success()
                    .then_some(())
            });
        }
        lab.kubectl_ok(&["apply", "-f", MODEL]);
        for ns in ["x", "y", "z"] {
            lab.kubectl_ok(&[
                "wait",
                "-n",
                ns,
                "--for=condition=Ready",
                "pod",
                "--all",
                "--timeout=180s",
            ]);
        }
        let pods = lab.kubectl_ok(&[
            "get", "pods", "-A", "-l", "pod", "-o",
            "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.status.podIP} {.spec.nodeName}{\"\\n\"}{end}",
        ]);
        let rows: Vec<Vec<&str>> = pods.lines().map(|l| l.split(' ').collect()).collect();
        let ips: BTreeMap<String, String> = rows
            .iter()
            .map(|r| (r[0].to_owned(), r[1].to_owned()))
            .collect();
        assert_eq!(ips.len(), 9, "{pods}");
        // Same-node (bridged) and cross-node (routed) paths both need covering.
        let nodes: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[2]).collect();
        assert!(
            nodes.len() >= 2,
            "the model's pods all landed on one node:\n{pods}"
        );
        Self { lab, tmp, ips }
    }

    /// Every pod's probes to every other pod on `protocol`/`port`, at once: for each source
    /// one `lab exec` running agnhost's connect to all destinations in parallel.
    fn probe(&self, protocol: &str, port: u16) -> BTreeMap<(String, String), bool> {
        let children: Vec<_> = self
            .ips
            .keys()
            .map(|from| {
                let (ns, pod) = from.split_once('/').unwrap();
                let script: String = self
                    .ips
                    .iter()
                    .filter(|(to, _)| *to != from)
                    .map(|(to, ip)| {
                        format!(
                            "({PODNET} workload connect {ip}:{port} --timeout=1s --protocol={protocol} \
                             >/dev/null 2>&1 && echo '{to} 1' || echo '{to} 0') & "
                        )
                    })
                    .collect::<String>()
                    + "wait";
                let child = Command::new(PODNET)
                    .args(["lab", "--name", &self.lab.name, "--state-dir"])
                    .arg(self.lab.root.path())
                    .args(["exec", "-n", ns, pod, "--", "sh", "-c", &script])
                    .output();
                (from.clone(), std::thread::spawn(move || child))
            })
            .collect();
        let mut seen = BTreeMap::new();
        for (from, child) in children {
            let out = child.join().unwrap().unwrap();
            assert!(
                out.status.success(),
                "probing from {from}: {}",
                support::show(&out)
            );
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let (to, ok) = line.split_once(' ').unwrap();
                seen.insert((from.clone(), to.to_owned()), ok == "1");
            }
            seen.insert((from.clone(), from.clone()), true);
        }
        seen
    }

    /// Waits until the probes on `protocol`/`port` give `expected`; panics with the
    /// expected and last observed matrices.
    fn expect(&self, case: &str, expected: &Reachability, protocol: &str, port: u16) {
        let deadline = Instant::now() + ENFORCED_WITHIN;
        loop {
            let seen = self.probe(protocol, port);
            match expected.compare(|f, t| seen[&(f.to_owned(), t.to_owned())]) {
                Ok(()) => return,
                Err(diff) if Instant::now() > deadline => {
                    panic!("{case}: {protocol}/{port} not as upstream expects\n{diff}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }

    fn apply(&self, name: &str, yaml: &str) {
        let file = manifest(self.tmp.path(), &format!("{name}.yaml"), yaml);
        self.lab
            .kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    }

    /// Deletes every policy and waits for full connectivity again.
    fn reset(&self, case: &str) {
        for ns in ["x", "y", "z"] {
            self.lab
                .kubectl_ok(&["delete", "networkpolicy", "--all", "-n", ns]);
        }
        self.lab
            .kubectl_ok(&["delete", "clusternetworkpolicies", "--all"]);
        self.expect(
            &format!("{case} (deleted)"),
            &Reachability::new(true),
            "tcp",
            80,
        );
    }
}

fn policy(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"
    )
}

/// A ClusterNetworkPolicy `name` of `tier` at `priority` for x's pods, with `ingress` rules.
fn cluster_policy(name: &str, tier: &str, priority: u32, ingress: &str) -> String {
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata:\n  name: {name}\n\
         spec:\n  tier: {tier}\n  priority: {priority}\n  subject:\n    namespaces: {{matchLabels: {{ns: \"x\"}}}}\n  ingress:\n{ingress}"
    )
}

fn from_ns(action: &str, ns: &str) -> String {
    format!(
        "  - action: {action}\n    from:\n    - namespaces: {{matchLabels: {{ns: \"{ns}\"}}}}\n"
    )
}

fn an_admin_deny_beats_a_network_policy_allow(m: &Model) {
    m.apply(
        "allow-a",
        &policy(
            "x",
            "allow-all-to-a",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - {}\n",
        ),
    );
    m.apply(
        "deny-y",
        &cluster_policy("deny-y", "Admin", 10, &from_ns("Deny", "y")),
    );
    let mut r = Reachability::new(true);
    r.expect(in_ns("y"), in_ns("x"), false);
    m.expect("Admin Deny", &r, "tcp", 80);
    m.expect("Admin Deny", &r, "udp", 81);
}

fn an_admin_pass_defers_to_network_policy_in_priority_order(m: &Model) {
    m.apply(
        "a-from-z",
        &policy(
            "x",
            "a-from-z",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {ns: z}}\n",
        ),
    );
    m.apply(
        "deny-y",
        &cluster_policy("deny-y", "Admin", 10, &from_ns("Deny", "y")),
    );
    m.apply(
        "pass-y",
        &cluster_policy("pass-y", "Admin", 5, &from_ns("Pass", "y")),
    );
    // The Pass (priority 5) comes before the Deny (10): NetworkPolicy decides for x/a, and
    // nothing isolates x/b and x/c.
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(in_ns("z"), is("x/a"), true);
    m.expect("Admin Pass, then NetworkPolicy", &r, "tcp", 80);
    // Moved after the Deny, the Pass is never reached.
    m.apply(
        "pass-y",
        &cluster_policy("pass-y", "Admin", 20, &from_ns("Pass", "y")),
    );
    r.expect(in_ns("y"), in_ns("x"), false);
    m.expect("Admin Deny first", &r, "tcp", 80);
}

fn a_baseline_deny_applies_only_where_no_network_policy_selects(m: &Model) {
    m.apply(
        "a-from-z",
        &policy(
            "x",
            "a-from-z",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {ns: z}}\n",
        ),
    );
    m.apply(
        "baseline",
        &cluster_policy("baseline-deny-z", "Baseline", 1, &from_ns("Deny", "z")),
    );
    let mut r = Reachability::new(true);
    r.expect(in_ns("z"), in_ns("x"), false)
        .expect(any, is("x/a"), false)
        .expect(in_ns("z"), is("x/a"), true);
    m.expect("Baseline Deny", &r, "tcp", 80);
}

fn is(id: &'static str) -> impl Fn(&str) -> bool {
    move |p| p == id
}

fn in_ns(ns: &'static str) -> impl Fn(&str) -> bool {
    move |p| p.starts_with(&format!("{ns}/"))
}

fn any(_: &str) -> bool {
    true
}

fn should_support_a_default_deny_ingress_policy(m: &Model) {
    m.apply(
        "deny",
        &policy(
            "x",
            "deny-ingress",
            "  podSelector: {}\n  policyTypes: [Ingress]\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    m.expect("default-deny-ingress", &r, "tcp", 80);
    m.expect("default-deny-ingress", &r, "udp", 81);
    // The drops are counted per isolated pod on the agents' /metrics (read every 10 s).
    let nodes = m.lab.kubectl_ok(&["get", "nodes", "-o", "name"]);
    eventually(60, "x's drops on an agent's /metrics", || {
        nodes.lines().find_map(|n| {
            let node = n.trim_start_matches("node/");
            let out = m.lab.podnet(&[
                "node-exec",
                node,
                "--",
                "curl",
                "-s",
                "-m",
                "3",
                "localhost:10249/metrics",
            ]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| {
                    l.starts_with("podnet_network_policy_denied_packets_total{namespace=\"x\"")
                })
                .any(|l| !l.ends_with(" 0"))
                .then_some(())
        })
    });
}

fn should_support_a_default_deny_all_policy(m: &Model) {
    m.apply(
        "deny-all",
        &policy(
            "x",
            "deny-all",
            "  podSelector: {}\n  policyTypes: [Ingress, Egress]\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false)
        .expect(in_ns("x"), any, false);
    m.expect("default-deny-all", &r, "tcp", 80);
}

fn should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_pod_selector(
    m: &Model,
) {
    m.apply(
        "pod-selector",
        &policy(
            "x",
            "x-a-allows-x-b",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {pod: b}}\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(is("x/b"), is("x/a"), true);
    m.expect("allow from pod selector", &r, "tcp", 80);
}

fn should_enforce_policy_based_on_pod_selector_and_namespace_selector(m: &Model) {
    m.apply(
        "and",
        &policy(
            "x",
            "and",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions: [{key: ns, operator: NotIn, values: [x]}]\n      podSelector: {matchLabels: {pod: b}}\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false)
        .expect(is("y/b"), is("x/a"), true)
        .expect(is("z/b"), is("x/a"), true);
    m.expect("pod and namespace selector", &r, "tcp", 80);
}

fn should_allow_ingress_access_on_one_named_port(m: &Model) {
    m.apply(
        "named",
        &policy(
            "x",
            "named",
            "  podSelector: {}\n  ingress:\n  - ports:\n    - port: serve-81-tcp\n",
        ),
    );
    m.expect(
        "named port (81 allowed)",
        &Reachability::new(true),
        "tcp",
        81,
    );
    let mut r = Reachability::new(true);
    r.expect(any, in_ns("x"), false);
    m.expect("named port (80 denied)", &r, "tcp", 80);
}

fn should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp(m: &Model) {
    m.apply(
        "udp-only",
        &policy(
            "x",
            "udp-only",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports:\n    - {protocol: UDP, port: 81}\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    m.expect("udp only (tcp denied)", &r, "tcp", 81);
    m.expect(
        "udp only (udp allowed)",
        &Reachability::new(true),
        "udp",
        81,
    );
}

fn should_enforce_except_clause_while_egress_access_to_server_in_cidr_block(m: &Model) {
    let b = &m.ips["x/b"];
    m.apply(
        "cidr",
        &policy(
            "x",
            "cidr-except",
            &format!(
                "  podSelector: {{matchLabels: {{pod: a}}}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {{cidr: 10.244.0.0/16, except: [{b}/32]}}\n"
            ),
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(is("x/a"), is("x/b"), false);
    m.expect("ipBlock except", &r, "tcp", 80);
}

fn should_allow_ingress_access_from_updated_pod(m: &Model) {
    m.apply(
        "updated-pod",
        &policy(
            "x",
            "from-updated",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {pod2: updated}}\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    m.expect("before the relabel", &r, "tcp", 80);
    m.lab
        .kubectl_ok(&["label", "pod", "-n", "x", "b", "pod2=updated"]);
    r.expect(is("x/b"), is("x/a"), true);
    m.expect("after the relabel", &r, "tcp", 80);
    m.lab.kubectl_ok(&["label", "pod", "-n", "x", "b", "pod2-"]);
}

fn should_enforce_multiple_ingress_policies_with_ingress_allow_all_policy_taking_precedence(
    m: &Model,
) {
    m.apply(
        "only-80",
        &policy(
            "x",
            "only-80",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - ports:\n    - port: 80\n",
        ),
    );
    let mut r = Reachability::new(true);
    r.expect(any, is("x/a"), false);
    m.expect("only 80 (81 denied)", &r, "tcp", 81);
    m.apply(
        "allow-all",
        &policy(
            "x",
            "allow-all",
            "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - {}\n",
        ),
    );
    m.expect("allow-all wins", &Reachability::new(true), "tcp", 81);
}

/// An upstream case's name and its steps.
type Case = (&'static str, fn(&Model));

#[test]
fn lab_network_policy_upstream_cases() {
    let m = Model::up(
        "netpol",
        "  routingMode: vxlan\n  kubeProxyMode: nftables\n",
    );
    m.expect("no policy", &Reachability::new(true), "tcp", 80);
    let cases: [Case; 12] = [
        ("should support a 'default-deny-ingress' policy", should_support_a_default_deny_ingress_policy),
        ("should support a 'default-deny-all' policy", should_support_a_default_deny_all_policy),
        (
            "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
            should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_pod_selector,
        ),
        (
            "should enforce policy based on PodSelector and NamespaceSelector",
            should_enforce_policy_based_on_pod_selector_and_namespace_selector,
        ),
        ("should allow ingress access on one named port", should_allow_ingress_access_on_one_named_port),
        (
            "should not allow access by TCP when a policy specifies only UDP",
            should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp,
        ),
        (
            "should enforce except clause while egress access to server in CIDR block",
            should_enforce_except_clause_while_egress_access_to_server_in_cidr_block,
        ),
        ("should allow ingress access from updated pod", should_allow_ingress_access_from_updated_pod),
        (
            "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
            should_enforce_multiple_ingress_policies_with_ingress_allow_all_policy_taking_precedence,
        ),
        ("ClusterNetworkPolicy: an Admin Deny beats a NetworkPolicy allow", an_admin_deny_beats_a_network_policy_allow),
        (
            "ClusterNetworkPolicy: an Admin Pass defers to NetworkPolicy, in priority order",
            an_admin_pass_defers_to_network_policy_in_priority_order,
        ),
        (
            "ClusterNetworkPolicy: a Baseline Deny applies only where no NetworkPolicy selects",
            a_baseline_deny_applies_only_where_no_network_policy_selects,
        ),
    ];
    for (name, case) in cases {
        eprintln!("case: {name}");
        case(&m);
        m.reset(name);
    }
}

/// The same enforcement with pod traffic routed directly (host-gw) and the service proxy in
/// iptables mode (its own filter rules beside the policy table).
#[test]
fn lab_network_policy_in_host_gw_with_iptables_proxy() {
    let m = Model::up(
        "netpol-hgw",
        "  routingMode: host-gw\n  kubeProxyMode: iptables\n",
    );
    m.expect("no policy", &Reachability::new(true), "tcp", 80);
    let cases: [Case; 3] = [
        (
            "should support a 'default-deny-ingress' policy",
            should_support_a_default_deny_ingress_policy,
        ),
        (
            "should enforce policy based on PodSelector and NamespaceSelector",
            should_enforce_policy_based_on_pod_selector_and_namespace_selector,
        ),
        (
            "should enforce except clause while egress access to server in CIDR block",
            should_enforce_except_clause_while_egress_access_to_server_in_cidr_block,
        ),
    ];
    for (name, case) in cases {
        eprintln!("case: {name}");
        case(&m);
        m.reset(name);
    }
}
