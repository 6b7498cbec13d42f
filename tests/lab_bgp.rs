//! BGP on a lab (`routingMode: bgp`): every node's agent announces its pod CIDR and the
//! LoadBalancer addresses to the lab's router (BIRD in the `router` namespace); pods reach
//! pods on other nodes through the router with no overlay; the outside world reaches a
//! LoadBalancer address through the router, and with `externalTrafficPolicy: Local` only the
//! nodes with an endpoint announce it; a stopped agent's routes are withdrawn at once.

#[path = "lab/support.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{Lab, eventually, manifest};

const CONFIG: &str = "kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
networking:
  routingMode: bgp
";

/// netexec pods spread over the two workers (the control plane is tainted, as in kind).
const SERVERS: &str = "
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
";

const LB_IP: &str = "172.18.255.200";

/// BIRD's answer to `command` (e.g. `show route`), through its control socket.
fn birdc(lab: &Lab, command: &[&str]) -> String {
    let socket = lab.dir().join("router").join("bird.ctl");
    let out = Command::new("birdc")
        .arg("-s")
        .arg(&socket)
        .args(command)
        .output()
        .expect("birdc (bird2) is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command inside one of the lab's namespaces (`fabric`, `router`, …).
fn in_netns(lab: &Lab, ns: &str, cmd: &[&str]) -> String {
    let netns = format!("podnet.{}.{ns}", lab.name);
    let out = Command::new("ip")
        .args(["netns", "exec", &netns])
        .args(cmd)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(name, pod IP, node)` of the pods with `selector`.
fn pods(lab: &Lab, selector: &str) -> Vec<(String, String, String)> {
    let list: Value =
        serde_json::from_str(&lab.ok(&["get", "pods", "-l", selector, "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                s(&p["metadata"]["name"]),
                s(&p["status"]["podIP"]),
                s(&p["spec"]["nodeName"]),
            )
        })
        .collect()
}

/// Node name → (InternalIP, pod CIDR).
fn nodes(lab: &Lab) -> Vec<(String, String, String)> {
    let list: Value = serde_json::from_str(&lab.ok(&["get", "nodes", "-o", "json"])).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["metadata"]["name"].as_str().unwrap().to_owned(),
                n["status"]["addresses"][0]["address"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                n["spec"]["podCIDR"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The next hops the router's kernel has for `prefix` (one, or several for ECMP).
fn router_next_hops(lab: &Lab, prefix: &str) -> Vec<String> {
    let route = in_netns(lab, "router", &["ip", "-4", "route", "show", prefix]);
    route
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0] == "via")
        .map(|w| w[1].to_owned())
        .collect()
}

#[test]
fn lab_bgp_routing_and_load_balancer_announcements() {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(tmp.path(), "kind.yaml", CONFIG);
    let servers = manifest(tmp.path(), "web.yaml", SERVERS);
    let lab = Lab::up(
        "bgp",
        &[
            "--config",
            config.to_str().unwrap(),
            "-f",
            servers.to_str().unwrap(),
        ],
    );
    lab.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);

    // Every node's pod CIDR, learned from that node.
    let nodes = nodes(&lab);
    assert_eq!(nodes.len(), 3);
    for (name, ip, cidr) in &nodes {
        eventually(60, &format!("{name}'s pod CIDR at the router"), || {
            let hops = router_next_hops(&lab, cidr);
            (hops == [ip.clone()]).then_some(())
        });
        let bird = birdc(&lab, &["show", "route", "for", cidr]);
        assert!(bird.contains("AS64513i"), "{bird}");
    }

    // Pod to pod across nodes, natively through the router: no overlay device anywhere.
    let all = pods(&lab, "app=web");
    let (client, _, client_node) = &all[0];
    let (server, server_ip, server_node) = all
        .iter()
        .find(|(_, _, node)| node != client_node)
        .expect("pods on both workers");
    let url = format!("http://{server_ip}:8080/hostname");
    let seen = lab.exec(client, &["curl", "-sS", "-m", "5", &url]);
    assert_eq!(seen.trim(), server, "{client_node} → {server_node}");
    for (name, _, _) in &nodes {
        let links = lab.ok(&["node-exec", name, "--", "ip", "-d", "link", "show"]);
        assert!(!links.contains("vxlan"), "{name} has no overlay: {links}");
        let route = lab.ok(&["node-exec", name, "--", "ip", "route", "get", server_ip]);
        if name != server_node {
            assert!(route.contains("via 172.18.0.254"), "{name}: {route}");
        }
    }

    // A LoadBalancer address: announced by every node (Cluster policy, ECMP at the router),
    // reached from the outside world through the router.
    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ]);
    let lb = format!("{LB_IP}/32");
    eventually(60, "the address announced by all three nodes", || {
        (router_next_hops(&lab, LB_IP).len() == 3).then_some(())
    });
    assert!(birdc(&lab, &["show", "route"]).contains(&lb));
    let via = in_netns(&lab, "fabric", &["ip", "route", "get", LB_IP]);
    assert!(via.contains("via 172.18.0.254"), "{via}");
    let hostname = eventually(60, "the address answering the external host", || {
        let out = lab.podnet(&[
            "external-exec",
            "--",
            "curl",
            "-sS",
            "-m",
            "5",
            &format!("http://{LB_IP}/hostname"),
        ]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    assert!(
        all.iter().any(|(name, _, _)| *name == hostname),
        "{hostname}"
    );

    // externalTrafficPolicy: Local: only the workers (where the endpoints run) announce, and
    // the client's address is kept.
    lab.kubectl_ok(&[
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"externalTrafficPolicy":"Local"}}"#,
    ]);
    let worker_ips: Vec<String> = nodes
        .iter()
        .filter(|(name, _, _)| all.iter().any(|(_, _, n)| n == name))
        .map(|(_, ip, _)| ip.clone())
        .collect();
    eventually(60, "only nodes with endpoints announcing", || {
        let mut hops = router_next_hops(&lab, LB_IP);
        hops.sort();
        (hops == worker_ips).then_some(())
    });
    // The proxy picks the policy change up on its own watch: until then it masquerades.
    let mut seen = String::new();
    eventually(60, "the client's address kept", || {
        seen = lab.ok(&[
            "external-exec",
            "--",
            "curl",
            "-sS",
            "-m",
            "5",
            &format!("http://{LB_IP}/clientip"),
        ]);
        seen.starts_with("203.0.113.10:").then_some(())
    });

    // A stopped agent (SIGTERM, by pid, from the daemon) ends its session with a Cease: its
    // pod CIDR and its share of the address are withdrawn at once.
    let (worker, worker_ip, worker_cidr) = nodes
        .iter()
        .find(|(name, _, _)| name == server_node)
        .unwrap()
        .clone();
    let stopped = Instant::now();
    lab.ok(&["stop", &format!("{worker}/agent")]);
    loop {
        if router_next_hops(&lab, &worker_cidr).is_empty() {
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "{worker}'s routes still at the router"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "{worker}'s pod CIDR withdrawn {} ms after `podnet lab stop {worker}/agent`",
        stopped.elapsed().as_millis()
    );
    assert!(!router_next_hops(&lab, LB_IP).contains(&worker_ip));
    lab.ok(&["start", &format!("{worker}/agent")]);
    eventually(60, "the restarted agent's routes back", || {
        (router_next_hops(&lab, &worker_cidr) == [worker_ip.clone()]).then_some(())
    });
}
