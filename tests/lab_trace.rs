//! `podnet trace` on a lab: healthy paths of every kind say so (pod → Service by svc/ and by
//! DNS name, pod → pod, outside → NodePort), and each way of breaking a Service is named
//! with its layer and evidence (a selector with a typo, a failing readiness probe, a deny
//! policy). One lab for every check.

#[path = "lab/support.rs"]
mod support;

use std::process::{Command, Output};

use support::{Lab, PODNET, manifest, show};

const APP: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: http, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: typo}
spec:
  selector: {app: Web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
";

/// Applied after `lab up`, which waits for every pod to be ready.
const UNREADY: &str = "
apiVersion: v1
kind: Pod
metadata: {name: unready, labels: {app: unready}}
spec:
  containers:
  - name: netexec
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    readinessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: unready}
spec:
  selector: {app: unready}
  ports: [{port: 80, targetPort: 8080}]
";

const DENY: &str = "
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
";

/// `podnet trace ARGS` against the lab.
fn trace(lab: &Lab, args: &[&str]) -> Output {
    Command::new(PODNET)
        .arg("trace")
        .args(args)
        .env("KUBECONFIG", lab.kubeconfig())
        .output()
        .unwrap()
}

/// Traces until the exit status is `ok` and the output has every one of `want` (the
/// objects settle: pods become ready, slices follow); returns stdout.
fn until(lab: &Lab, args: &[&str], ok: bool, want: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let out = trace(lab, args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() == ok && want.iter().all(|w| text.contains(w)) {
            return text;
        }
        let last = show(&out);
        assert!(
            std::time::Instant::now() < deadline,
            "trace {args:?} never showed {want:?} (ok: {ok}); last:\n{last}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

#[test]
fn lab_trace_names_healthy_paths_and_each_broken_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::up(
        "trace",
        &[
            "-f",
            manifest(tmp.path(), "app.yaml", APP).to_str().unwrap(),
        ],
    );
    lab.kubectl_ok(&[
        "apply",
        "-f",
        manifest(tmp.path(), "unready.yaml", UNREADY)
            .to_str()
            .unwrap(),
    ]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod",
        "-l",
        "app in (web, client)",
        "--timeout=180s",
    ]);

    // Healthy: pod → Service, by svc/ and by DNS name (search path), each layer ok.
    let out = until(
        &lab,
        &["default/client", "svc/default/web"],
        true,
        &["ok: every layer passes"],
    );
    assert!(out.contains("DNAT to 10.244."), "{out}");
    let out = until(
        &lab,
        &["default/client", "web:80"],
        true,
        &["web.default.svc.cluster.local: 10.96."],
    );
    assert!(out.contains("ok: every layer passes"), "{out}");

    // pod → pod, to a web pod on whichever node.
    let web = lab.kubectl_ok(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let out = until(
        &lab,
        &["default/client", &format!("default/{web}:8080")],
        true,
        &["not a Service address: no DNAT"],
    );
    assert!(out.contains("ok: every layer passes"), "{out}");

    // outside → NodePort on each node.
    let nodes = lab.kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"]);
    for node in nodes.split_whitespace() {
        let out = until(
            &lab,
            &["203.0.113.10", &format!("{node}:30080")],
            true,
            &["NodePort of default/web on node"],
        );
        assert!(out.contains("ok: every layer passes"), "{out}");
    }

    // JSON names the layers.
    let out = trace(
        &lab,
        &["default/client", "svc/default/web:80", "-o", "json"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers: Vec<&str> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(
        layers,
        [
            "dns",
            "entry",
            "endpoints",
            "proxy",
            "policy",
            "routing",
            "return"
        ]
    );

    // A selector with a typo: the endpoints layer, with the pods that almost match.
    let out = until(
        &lab,
        &["default/client", "svc/default/typo"],
        false,
        &["BROKEN at Service → EndpointSlices (endpoints)"],
    );
    assert!(
        out.contains("selector app=Web matches no pod in namespace default"),
        "{out}"
    );
    assert!(out.contains("has app=web (almost)"), "{out}");

    // A failing readiness probe, named.
    let out = until(
        &lab,
        &["default/client", "svc/default/unready"],
        false,
        &["readiness probe failing (tcpSocket :9999)"],
    );
    assert!(
        out.contains("default/unready has no ready endpoint"),
        "{out}"
    );

    // A deny policy: the policy layer names it; deleting it heals the path.
    lab.kubectl_ok(&[
        "apply",
        "-f",
        manifest(tmp.path(), "deny.yaml", DENY).to_str().unwrap(),
    ]);
    let out = until(
        &lab,
        &["default/client", "svc/default/web"],
        false,
        &["BROKEN at NetworkPolicy (policy)"],
    );
    assert!(out.contains("is selected by policy default/deny-all (ingress) and no policy allows default/client → default/"), "{out}");
    lab.kubectl_ok(&["delete", "networkpolicy", "deny-all"]);
    until(
        &lab,
        &["default/client", "svc/default/web"],
        true,
        &["ok: every layer passes"],
    );

    // The drills, one after another on the same lab: each breaks, is named, is restored.
    let list = lab.ok(&["drill", "--list"]);
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        [
            "selector-mismatch",
            "readiness-failing",
            "dns-down",
            "dns-egress-blocked",
            "etp-local-no-endpoint"
        ],
        "{list}"
    );
    let out = lab.ok(&["drill", "all"]);
    for (drill, layer) in [
        ("selector-mismatch", "endpoints"),
        ("readiness-failing", "endpoints"),
        ("dns-down", "dns"),
        ("dns-egress-blocked", "dns"),
        ("etp-local-no-endpoint", "entry"),
    ] {
        let section = out
            .split(&format!("=== drill {drill}:"))
            .nth(1)
            .unwrap_or_else(|| panic!("{drill} did not run:\n{out}"));
        let section = section.split("=== drill").next().unwrap();
        assert!(
            section.contains(&format!("--- trace named {layer} as expected")),
            "{drill}:\n{section}"
        );
        assert!(section.contains("--- restored"), "{drill}:\n{section}");
    }
    assert!(
        out.contains("readiness probe failing (tcpSocket :9999)"),
        "{out}"
    );
    assert!(
        out.contains("kube-system/kube-dns has no ready endpoint"),
        "{out}"
    );
    assert!(
        out.contains("selected by policy drill/client-egress (egress)"),
        "{out}"
    );
}
