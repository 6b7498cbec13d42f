//! Services on a whole lab, through each node's `podnet agent` in kube-proxy's nftables and
//! iptables modes (kind's `networking.kubeProxyMode`): load spread over the backends,
//! ClientIP affinity, an immediate reject without endpoints, NodePort on every node from the
//! outside, externalTrafficPolicy Local (client IP kept; nodes without an endpoint drop),
//! hairpin, a LoadBalancer IP, and rules that outlive a stopped agent. ipvs is refused.

#[path = "lab/support.rs"]
mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::{Lab, eventually, manifest};

const SERVICES: &str = "tests/lab/manifests/services.yaml";

fn lab(mode: &str) -> (Lab, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "kind.yaml",
        &format!(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n\
             - role: worker\n- role: worker\nnetworking:\n  kubeProxyMode: {mode}\n"
        ),
    );
    let lab = Lab::up(
        &format!("svc-{mode}"),
        &["--config", config.to_str().unwrap(), "-f", SERVICES],
    );
    (lab, tmp)
}

fn cluster_ip(lab: &Lab, svc: &str) -> String {
    lab.json(&["get", "svc", svc])["spec"]["clusterIP"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `n` requests from `pod` to `url`, one answer per line.
fn answers(lab: &Lab, pod: &str, url: &str, n: usize) -> Vec<String> {
    let script = format!("for i in $(seq {n}); do curl -sS -m 3 {url}; echo; done");
    lab.ok(&["exec", pod, "--", "sh", "-c", &script])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn node_ips(lab: &Lab) -> Vec<(String, String)> {
    lab.json(&["get", "nodes"])["items"]
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
            )
        })
        .collect()
}

fn external_curl(lab: &Lab, url: &str) -> std::process::Output {
    lab.podnet(&["external-exec", "--", "curl", "-sS", "-m", "3", url])
}

fn services_in(mode: &str) {
    let (lab, _tmp) = lab(mode);
    // The agents program a Service within a sync of its EndpointSlice being ready.
    let spread = cluster_ip(&lab, "spread");
    eventually(20, "the ClusterIP to answer", || {
        let out = lab.podnet(&[
            "exec",
            "client",
            "--",
            "curl",
            "-sS",
            "-m",
            "2",
            &format!("http://{spread}/hostname"),
        ]);
        out.status.success().then_some(())
    });

    // Random load balancing over the 3 ready endpoints.
    let seen: BTreeSet<String> = answers(&lab, "client", &format!("http://{spread}/hostname"), 40)
        .into_iter()
        .collect();
    assert_eq!(seen.len(), 3, "{mode}: spread over all backends: {seen:?}");

    // ClientIP affinity sticks to one.
    let sticky = cluster_ip(&lab, "sticky");
    let seen: BTreeSet<String> = answers(&lab, "client", &format!("http://{sticky}/hostname"), 20)
        .into_iter()
        .collect();
    assert_eq!(seen.len(), 1, "{mode}: affinity: {seen:?}");

    // No endpoint: refused at once, not a timeout.
    let empty = cluster_ip(&lab, "empty");
    let out = lab.podnet(&[
        "exec",
        "client",
        "--",
        "curl",
        "-sS",
        "-m",
        "5",
        &format!("http://{empty}/"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{mode}: curl: connection refused: {}",
        support::show(&out)
    );

    // NodePort on every node (the control plane's too), from outside the cluster.
    let nodes = node_ips(&lab);
    for (name, ip) in &nodes {
        let out = external_curl(&lab, &format!("http://{ip}:30080/hostname"));
        assert!(
            out.status.success(),
            "{mode}: NodePort on {name}: {}",
            support::show(&out)
        );
    }

    // externalTrafficPolicy Local: the client's own address arrives; a node without an
    // endpoint drops.
    let one: Value = lab.json(&["get", "pod", "one"]);
    let home = one["spec"]["nodeName"].as_str().unwrap();
    for (name, ip) in &nodes {
        let out = external_curl(&lab, &format!("http://{ip}:30081/clientip"));
        if name == home {
            let seen = String::from_utf8_lossy(&out.stdout);
            assert!(
                seen.starts_with("203.0.113.10:"),
                "{mode}: ETP Local keeps the client IP: {seen}"
            );
        } else {
            assert!(
                !out.status.success(),
                "{mode}: {name} has no local endpoint"
            );
        }
    }

    // Hairpin: a pod reaching itself through its own Service.
    let own = cluster_ip(&lab, "self");
    let back = lab.ok(&[
        "exec",
        "one",
        "--",
        "curl",
        "-sS",
        "-m",
        "3",
        &format!("http://{own}/hostname"),
    ]);
    assert_eq!(back.trim(), "one", "{mode}: hairpin");

    // A LoadBalancer IP, once the lab's allocator has put it in the Service's status.
    eventually(20, "the LoadBalancer IP to be allocated", || {
        let ip = lab.json(&["get", "svc", "lb"])["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .map(str::to_owned);
        (ip.as_deref() == Some("172.18.255.200")).then_some(())
    });
    eventually(20, "the LoadBalancer IP to answer", || {
        let out = lab.podnet(&[
            "exec",
            "client",
            "--",
            "curl",
            "-sS",
            "-m",
            "2",
            "http://172.18.255.200/hostname",
        ]);
        out.status.success().then_some(())
    });

    // A stopped agent leaves its rules: Services keep working; a started one adopts them.
    let node = &nodes[1].0;
    lab.ok(&["stop", &format!("{node}/agent")]);
    let out = external_curl(&lab, &format!("http://{}:30080/hostname", nodes[1].1));
    assert!(out.status.success(), "{mode}: rules outlive the agent");
    lab.ok(&["start", &format!("{node}/agent")]);
    let out = external_curl(&lab, &format!("http://{}:30080/hostname", nodes[1].1));
    assert!(
        out.status.success(),
        "{mode}: and the next agent keeps them"
    );
}

#[test]
fn lab_services_in_nftables_mode() {
    services_in("nftables");
}

#[test]
fn lab_services_in_iptables_mode() {
    services_in("iptables");
}

#[test]
fn lab_ipvs_mode_is_refused_by_the_agent_naming_the_kernel_feature() {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "kind.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  kubeProxyMode: ipvs\n",
    );
    let lab = support::Lab::new("svc-ipvs");
    // Without a working agent the cluster DNS cannot come up: `up` reports what is not Ready.
    let out = lab.podnet(&["up", "--wait", "10s", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success(), "{}", support::show(&out));
    let node = format!("{}-control-plane", lab.name);
    let log = eventually(20, "the agent to refuse ipvs", || {
        let log = lab.ok(&["logs", &format!("{node}/agent")]);
        log.contains("IPVS").then_some(log)
    });
    assert!(log.contains("ip_vs"), "names the kernel module: {log}");
}
