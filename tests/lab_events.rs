//! Events in a lab, as `kubectl get events` and `kubectl describe` show them on kind: the
//! scheduler's Scheduled and the kubelet's Pulled, Created and Started for each pod of a
//! Deployment, a failing readiness probe as one Unhealthy object whose count grows, and the
//! kubelet's own Starting event on its node.

#[path = "lab/support.rs"]
mod support;

use serde_json::Value;
use support::{Lab, eventually, manifest};

const APPS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [\"netexec\", \"--http-port=8080\"]
---
apiVersion: v1
kind: Pod
metadata:
  name: unready
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [\"netexec\", \"--http-port=8080\"]
    readinessProbe:
      tcpSocket:
        port: 9
      periodSeconds: 1
";

/// The events about `pod` as (reason, count, message), via `kubectl get events -o json`.
fn events_of(lab: &Lab, pod: &str) -> Vec<(String, i64, String)> {
    let out = lab.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        &format!("involvedObject.kind=Pod,involvedObject.name={pod}"),
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_string(),
                e["count"].as_i64().unwrap_or(0),
                e["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn pods_and_nodes_are_told_in_events() {
    let lab = Lab::up("events", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let apps = manifest(tmp.path(), "apps.yaml", APPS);
    lab.kubectl_ok(&["apply", "-f", apps.to_str().unwrap()]);

    let pods: Vec<String> = eventually(120, "two running web pods", || {
        let out = lab.kubectl_ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "name",
        ]);
        let names: Vec<String> = out
            .lines()
            .map(|l| l.trim_start_matches("pod/").to_string())
            .collect();
        (names.len() == 2).then_some(names)
    });
    for pod in &pods {
        let events = eventually(60, &format!("the events of {pod}"), || {
            let events = events_of(&lab, pod);
            (events.len() >= 4).then_some(events)
        });
        let node = lab.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"]);
        let expected = [
            (
                "Scheduled",
                format!("Successfully assigned default/{pod} to {node}"),
            ),
            (
                "Pulled",
                "Container image \"registry.k8s.io/e2e-test-images/agnhost:2.53\" already \
                 present on machine (image emulated: podnet workload netexec)"
                    .to_string(),
            ),
            ("Created", "Created container: web".to_string()),
            ("Started", "Started container web".to_string()),
        ];
        for (reason, message) in expected {
            let found: Vec<_> = events.iter().filter(|(r, _, _)| r == reason).collect();
            assert_eq!(found.len(), 1, "one {reason} event of {pod}: {events:?}");
            assert_eq!(found[0].1, 1, "{reason} once: {events:?}");
            assert_eq!(found[0].2, message, "{events:?}");
        }
    }

    // A readiness probe failing every second: one object, counted.
    let unhealthy = eventually(120, "Unhealthy counted more than once", || {
        let events = events_of(&lab, "unready");
        let unhealthy: Vec<_> = events
            .into_iter()
            .filter(|(r, _, _)| r == "Unhealthy")
            .collect();
        (unhealthy.len() == 1 && unhealthy[0].1 > 1).then(|| unhealthy[0].clone())
    });
    assert!(
        unhealthy
            .2
            .starts_with("Readiness probe failed: dial tcp 10.244."),
        "{unhealthy:?}"
    );
    assert!(
        unhealthy.2.ends_with(":9: connect: connection refused"),
        "{unhealthy:?}"
    );

    let table = lab.kubectl_ok(&["get", "events"]);
    assert!(
        table.lines().next().unwrap().starts_with("LAST SEEN"),
        "{table}"
    );
    for reason in ["Scheduled", "Pulled", "Created", "Started", "Unhealthy"] {
        assert!(table.contains(reason), "{reason} in:\n{table}");
    }
    let described = lab.kubectl_ok(&["describe", "pod", "unready"]);
    let events = described.split_once("\nEvents:").expect(&described).1;
    let line = events
        .lines()
        .find(|l| l.contains("Unhealthy"))
        .expect(&described);
    assert!(
        line.contains("Warning") && line.contains("(x"),
        "{described}"
    );

    let worker = format!("{}-worker", lab.name);
    let node = lab.kubectl_ok(&["describe", "node", &worker]);
    assert!(node.contains("Starting kubelet."), "{node}");
    assert!(
        node.contains(&format!("Node {worker} status is now: NodeReady")),
        "{node}"
    );
}
