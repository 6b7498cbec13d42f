//! The Kubernetes network model on a whole lab (3 nodes: kind's control plane and two
//! workers), in both routing modes: pods reach pods on the same node and across nodes with
//! their own addresses (no NAT), nodes reach pods, pods reach the outside world as their
//! node; a pod's files and hostname are its own; readiness shows in pod status and
//! EndpointSlices; a deleted pod gives its namespace, veth and address back; `lab down`
//! leaves nothing.

#[path = "lab/support.rs"]
mod support;

use std::path::Path;

use serde_json::Value;
use support::{Lab, eventually, manifest};

/// 3 netexec pods spread over the two workers (the control plane is tainted, as in kind).
const SERVERS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: srv}
spec:
  replicas: 4
  selector: {matchLabels: {app: srv}}
  template:
    metadata: {labels: {app: srv}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
";

struct Pod {
    name: String,
    ip: String,
    node: String,
}

fn pods(lab: &Lab, selector: &str) -> Vec<Pod> {
    let out = lab.ok(&["get", "pods", "-l", selector, "-o", "json"]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(Pod::from)
        .collect()
}

fn pod(lab: &Lab, name: &str) -> Pod {
    let out = lab.ok(&["get", "pod", name, "-o", "json"]);
    Pod::from(&serde_json::from_str::<Value>(&out).unwrap())
}

impl From<&Value> for Pod {
    fn from(p: &Value) -> Self {
        Pod {
            name: p["metadata"]["name"].as_str().unwrap().to_owned(),
            ip: p["status"]["podIP"].as_str().unwrap_or_default().to_owned(),
            node: p["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

fn node_exec(lab: &Lab, node: &str, cmd: &[&str]) -> String {
    lab.ok(&[&["node-exec", node, "--"], cmd].concat())
}

/// What netexec's /clientip says about the caller: its address, without the port.
fn client_ip(answer: &str) -> &str {
    answer.rsplit_once(':').map_or(answer, |(ip, _)| ip)
}

fn lab_with_mode(tag: &str, mode: &str, dir: &Path) -> Lab {
    let config = manifest(
        dir,
        "kind.yaml",
        &format!(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
             - role: worker\n- role: worker\nnetworking:\n  routingMode: {mode}\n"
        ),
    );
    let servers = manifest(dir, "servers.yaml", SERVERS);
    Lab::up(
        tag,
        &[
            "--config",
            config.to_str().unwrap(),
            "-f",
            servers.to_str().unwrap(),
        ],
    )
}

/// Every pair of pods (same node and across nodes), node → pod, pod → external.
fn packet_path(mode: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let lab = lab_with_mode(mode, mode, tmp.path());
    let all = pods(&lab, "app=srv");
    assert_eq!(all.len(), 4);
    let nodes: std::collections::BTreeSet<&str> = all.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(nodes.len(), 2, "spread over both workers: {nodes:?}");
    let client = &all[0];
    let same = all[1..].iter().find(|p| p.node == client.node);
    let other = all.iter().find(|p| p.node != client.node).unwrap();
    for server in same.into_iter().chain([other]) {
        let url = format!("http://{}:8080/clientip", server.ip);
        let seen = lab.exec(&client.name, &["curl", "-sS", "-m", "5", &url]);
        assert_eq!(
            client_ip(seen.trim()),
            client.ip,
            "{mode}: {} → {} ({}): the server sees the client's pod IP",
            client.node,
            server.node,
            server.ip
        );
    }
    // A node reaches a pod on another node (and sees it answer).
    let node = all
        .iter()
        .map(|p| p.node.as_str())
        .find(|n| *n != other.node)
        .unwrap();
    let url = format!("http://{}:8080/hostname", other.ip);
    assert_eq!(
        node_exec(&lab, node, &["curl", "-sS", "-m", "5", &url]).trim(),
        other.name
    );
    // Leaving the cluster, a pod is its node.
    let node: Value =
        serde_json::from_str(&lab.ok(&["get", "node", &client.node, "-o", "json"])).unwrap();
    let node_ip = node["status"]["addresses"][0]["address"].as_str().unwrap();
    let seen = lab.exec(
        &client.name,
        &["curl", "-sS", "-m", "5", "http://203.0.113.10/clientip"],
    );
    assert_eq!(
        client_ip(seen.trim()),
        node_ip.trim(),
        "{mode}: egress is masqueraded"
    );
    // ... and the outside world cannot reach a pod directly.
    let out = lab.podnet(&[
        "external-exec",
        "--",
        "curl",
        "-sS",
        "-m",
        "2",
        &format!("http://{}:8080/hostname", client.ip),
    ]);
    assert!(!out.status.success(), "pods are not routed from outside");
}

#[test]
fn lab_vxlan_pods_reach_pods_nodes_and_outside_without_nat() {
    packet_path("vxlan");
}

#[test]
fn lab_host_gw_pods_reach_pods_nodes_and_outside_without_nat() {
    packet_path("host-gw");
}

const FILES: &str = "
apiVersion: v1
kind: Pod
metadata: {name: files}
spec:
  hostname: db-0
  subdomain: db
  hostAliases:
  - ip: 10.1.2.3
    hostnames: [foo.local, bar.local]
  containers:
  - name: main
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [pause]
";

#[test]
fn lab_pod_has_its_own_resolv_conf_hosts_and_hostname() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::up(
        "files",
        &[
            "-f",
            manifest(tmp.path(), "p.yaml", FILES).to_str().unwrap(),
        ],
    );
    let resolv = lab.exec("files", &["cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv,
        "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\n\
         options ndots:5\n"
    );
    let hosts = lab.exec("files", &["cat", "/etc/hosts"]);
    let ip = &pod(&lab, "files").ip;
    assert!(
        hosts.contains(&format!("{ip}\tdb-0.db.default.svc.cluster.local\tdb-0")),
        "{hosts}"
    );
    assert!(hosts.contains("10.1.2.3\tfoo.local\tbar.local"), "{hosts}");
    assert_eq!(lab.exec("files", &["hostname"]).trim(), "db-0");
    // The host's files are untouched.
    assert_ne!(std::fs::read_to_string("/etc/resolv.conf").unwrap(), resolv);
}

/// Readiness from an exec probe on a file the test controls (pods see the host's
/// filesystem, apart from their own /etc files).
fn readiness_pod(flag: &Path) -> String {
    format!(
        "
apiVersion: v1
kind: Pod
metadata: {{name: flappy, labels: {{app: flappy}}}}
spec:
  containers:
  - name: main
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{{containerPort: 8080}}]
    readinessProbe:
      exec: {{command: [test, -e, {}]}}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {{name: flappy}}
spec:
  selector: {{app: flappy}}
  ports: [{{port: 80, targetPort: 8080}}]
",
        flag.display()
    )
}

fn pod_ready(lab: &Lab, pod: &str) -> bool {
    let out = lab.ok(&["get", "pod", pod, "-o", "json"]);
    let pod: Value = serde_json::from_str(&out).unwrap();
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn endpoint_ready(lab: &Lab, service: &str) -> Option<bool> {
    let out = lab.ok(&[
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={service}"),
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"][0]["endpoints"][0]["conditions"]["ready"].as_bool()
}

#[test]
fn lab_readiness_failing_and_recovering_shows_in_pod_status_and_endpointslices() {
    let tmp = tempfile::tempdir().unwrap();
    let flag = tmp.path().join("ready");
    std::fs::write(&flag, "").unwrap();
    let lab = Lab::up(
        "ready",
        &[
            "-f",
            manifest(tmp.path(), "p.yaml", &readiness_pod(&flag))
                .to_str()
                .unwrap(),
        ],
    );
    assert!(pod_ready(&lab, "flappy"));
    eventually(10, "a ready endpoint", || {
        endpoint_ready(&lab, "flappy").filter(|r| *r)
    });
    std::fs::remove_file(&flag).unwrap();
    eventually(10, "the pod to turn unready", || {
        (!pod_ready(&lab, "flappy")).then_some(())
    });
    eventually(10, "the endpoint to turn unready", || {
        endpoint_ready(&lab, "flappy").filter(|r| !r)
    });
    std::fs::write(&flag, "").unwrap();
    eventually(10, "the pod to be ready again", || {
        pod_ready(&lab, "flappy").then_some(())
    });
    eventually(10, "the endpoint to be ready again", || {
        endpoint_ready(&lab, "flappy").filter(|r| *r)
    });
}

#[test]
fn lab_deleted_pod_releases_its_netns_veth_and_address() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::up(
        "delete",
        &[
            "-f",
            manifest(tmp.path(), "p.yaml", FILES).to_str().unwrap(),
        ],
    );
    let pod = &pod(&lab, "files");
    let netns_prefix = format!("podnet.{}.pod.{}.", lab.name, pod.node);
    let ipam = lab
        .dir()
        .join("nodes")
        .join(&pod.node)
        .join("ipam")
        .join("podnet")
        .join(&pod.ip);
    assert_eq!(podnet_netns::list(&netns_prefix).unwrap().len(), 1);
    assert!(ipam.exists(), "{} holds the address", ipam.display());
    let veths = |lab: &Lab| {
        node_exec(
            lab,
            &pod.node,
            &["ip", "-o", "link", "show", "master", "cni0"],
        )
        .lines()
        .count()
    };
    assert_eq!(veths(&lab), 1);

    lab.ok(&["delete", "pod", "files"]);
    eventually(30, "the pod to be gone", || {
        (!lab.podnet(&["get", "pod", "files"]).status.success()).then_some(())
    });
    eventually(10, "the sandbox to be removed", || {
        podnet_netns::list(&netns_prefix)
            .unwrap()
            .is_empty()
            .then_some(())
    });
    assert!(!ipam.exists(), "the address is released");
    assert_eq!(veths(&lab), 0);
}

#[test]
fn lab_runs_the_upstream_e2e_netexec_deployment_unchanged_and_down_leaves_nothing() {
    let lab = Lab::up("e2e", &["-f", "tests/lab/manifests/netexec-e2e.yaml"]);
    let servers = pods(&lab, "selector-netserver=true");
    assert_eq!(servers.len(), 3);
    // As the e2e framework checks connectivity: through netexec's /dial on one pod, over
    // HTTP and UDP, to every other.
    for s in &servers {
        for protocol in ["http", "udp"] {
            let port = if protocol == "http" { 8083 } else { 8081 };
            let url = format!(
                "http://{}:8083/dial?request=hostname&protocol={protocol}&host={}&port={port}&tries=1",
                servers[0].ip, s.ip
            );
            let answer = lab.exec(&servers[0].name, &["curl", "-sS", "-m", "10", &url]);
            let answer: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(
                answer["responses"][0],
                s.name.as_str(),
                "{protocol} to {}: {answer}",
                s.ip
            );
        }
    }
    let prefix = format!("podnet.{}.", lab.name);
    let namespaces = podnet_netns::list(&prefix).unwrap();
    // Every process of the lab: agents, kubelets, pods, the external host's servers.
    let processes: Vec<i32> = namespaces
        .iter()
        .flat_map(|n| podnet_netns::pids(&podnet_netns::path_of(n)).unwrap())
        .collect();
    assert!(namespaces.len() >= 3 + 2 + 3, "{namespaces:?}");
    assert!(processes.len() >= 3 * 2 + 3, "{processes:?}");
    let daemon = lab.daemon_pid();
    lab.ok(&["down"]);
    assert!(
        podnet_netns::list(&prefix).unwrap().is_empty(),
        "no namespace left"
    );
    assert!(!support::alive(daemon));
    for pid in processes {
        assert!(!support::alive(pid), "process {pid} of the lab survived");
    }
    assert!(!lab.dir().exists(), "no state left");
}

const HOST_PORT: &str = "
apiVersion: v1
kind: Pod
metadata: {name: hp}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080, hostPort: 18080}]
";

#[test]
fn lab_host_port_reaches_the_pod_from_outside_through_portmap() {
    let tmp = tempfile::tempdir().unwrap();
    let lab = Lab::up(
        "hostport",
        &[
            "-f",
            manifest(tmp.path(), "hp.yaml", HOST_PORT).to_str().unwrap(),
        ],
    );
    let pod = pod(&lab, "hp");
    let node: Value =
        serde_json::from_str(&lab.ok(&["get", "node", &pod.node, "-o", "json"])).unwrap();
    let node_ip = node["status"]["addresses"][0]["address"].as_str().unwrap();
    let url = format!("http://{node_ip}:18080/hostname");
    let answer = lab.ok(&["external-exec", "--", "curl", "-sS", "-m", "5", &url]);
    assert_eq!(answer.trim(), "hp", "the node's hostPort leads to the pod");
}
