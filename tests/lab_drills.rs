//! Failure drills on a lab: `podnet lab stop NODE/agent|kubelet` and `start`. A stopped
//! agent leaves the node's routes in place (traffic keeps flowing; the next start adopts
//! them); a stopped kubelet leaves its pods running, and the next one adopts them without a
//! restart. Plus the outside world's DNS, as the nodes see it.

#[path = "lab/support.rs"]
mod support;

use serde_json::Value;
use support::{Lab, manifest};

const TWO: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: two}
spec:
  replicas: 2
  selector: {matchLabels: {app: two}}
  template:
    metadata: {labels: {app: two}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
";

fn pods(lab: &Lab) -> Vec<Value> {
    lab.json(&["get", "pods", "-l", "app=two"])["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn curl(lab: &Lab, from: &Value, to: &Value) -> String {
    let url = format!(
        "http://{}:8080/hostname",
        to["status"]["podIP"].as_str().unwrap()
    );
    lab.exec(
        from["metadata"]["name"].as_str().unwrap(),
        &["curl", "-sS", "-m", "5", &url],
    )
}

#[test]
fn lab_stopped_agent_and_kubelet_leave_traffic_flowing_and_restart_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::up(
        "drill",
        &[
            "-f",
            manifest(tmp.path(), "two.yaml", TWO).to_str().unwrap(),
        ],
    );
    let pods = pods(&lab);
    assert_eq!(pods.len(), 2);
    let (a, b) = (&pods[0], &pods[1]);
    let node = a["spec"]["nodeName"].as_str().unwrap();
    assert_ne!(
        node,
        b["spec"]["nodeName"].as_str().unwrap(),
        "one pod per worker"
    );

    lab.ok(&["stop", &format!("{node}/agent")]);
    assert_eq!(
        curl(&lab, a, b).trim(),
        b["metadata"]["name"],
        "routes outlive the agent"
    );
    lab.ok(&["start", &format!("{node}/agent")]);
    assert_eq!(curl(&lab, b, a).trim(), a["metadata"]["name"]);

    lab.ok(&["stop", &format!("{node}/kubelet")]);
    assert_eq!(
        curl(&lab, b, a).trim(),
        a["metadata"]["name"],
        "pods outlive the kubelet"
    );
    lab.ok(&["start", &format!("{node}/kubelet")]);
    support::eventually(10, "the second kubelet to start", || {
        let log = lab.ok(&["logs", &format!("{node}/kubelet")]);
        (log.matches("kubelet starting").count() == 2).then_some(())
    });
    let again = self::pods(&lab);
    let same = again
        .iter()
        .find(|p| p["metadata"]["name"] == a["metadata"]["name"])
        .unwrap();
    assert_eq!(
        same["status"]["containerStatuses"][0]["restartCount"], 0,
        "adopted, not restarted"
    );
    assert_eq!(curl(&lab, b, same).trim(), a["metadata"]["name"]);

    // Naming what does not exist is an error that says what does.
    let out = lab.podnet(&["stop", "no-such-node/agent"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the lab's nodes"));
}

#[test]
fn lab_nodes_resolve_the_outside_worlds_test_zone() {
    let lab = Lab::up("extdns", &[]);
    let node = format!("{}-worker", lab.name);
    let a = lab.ok(&[
        "node-exec",
        &node,
        "--",
        "dig",
        "+short",
        "www.example.test",
    ]);
    assert_eq!(a.trim(), "203.0.113.10");
    let srv = lab.ok(&[
        "node-exec",
        &node,
        "--",
        "dig",
        "+short",
        "SRV",
        "_http._tcp.example.test",
    ]);
    assert_eq!(srv.trim(), "0 0 80 www.example.test.");
    let missing = lab.ok(&["external-exec", "--", "dig", "nothere.example.test"]);
    assert!(missing.contains("status: NXDOMAIN"), "{missing}");
}
