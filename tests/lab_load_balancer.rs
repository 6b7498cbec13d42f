//! LoadBalancer Services on a lab: `kubectl expose --type=LoadBalancer` gets an EXTERNAL-IP
//! from the lab pool (172.18.255.200–250), which the proxy forwards to the pods; a requested
//! address is honoured; a conflict is an AllocationFailed event; deleting the Service frees
//! its address.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, eventually, manifest};

const WORKLOADS: &str = "\
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
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - name: main
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [pause]
";

fn external_ip(lab: &Lab, svc: &str) -> String {
    eventually(60, &format!("an EXTERNAL-IP for {svc}"), || {
        let out = lab.kubectl(&[
            "get",
            "svc",
            svc,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        let ip = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        (out.status.success() && !ip.is_empty()).then_some(ip)
    })
}

#[test]
fn lab_load_balancer_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let workloads = manifest(tmp.path(), "web.yaml", WORKLOADS);
    let lab = Lab::up("lb", &["-f", workloads.to_str().unwrap()]);
    lab.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/client",
        "--timeout=120s",
    ]);

    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=LoadBalancer",
        "--port=80",
        "--target-port=8080",
    ]);
    assert_eq!(external_ip(&lab, "web"), "172.18.255.200");
    let shown = lab.kubectl_ok(&["get", "svc", "web"]);
    assert!(shown.contains("172.18.255.200"), "{shown}");

    // The proxy forwards the address: a pod reaches the deployment through it.
    let host = eventually(60, "the EXTERNAL-IP to answer", || {
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
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert!(host.starts_with("web-"), "{host}");

    // A requested address is honoured; asking for a taken one is told, not left pending.
    lab.kubectl_ok(&[
        "create",
        "service",
        "loadbalancer",
        "asked",
        "--tcp=80:8080",
    ]);
    lab.kubectl_ok(&[
        "patch",
        "svc",
        "asked",
        "--type=merge",
        "-p",
        r#"{"spec":{"loadBalancerIP":"172.18.255.220"}}"#,
    ]);
    eventually(60, "asked to get its requested address", || {
        let out = lab.kubectl_ok(&[
            "get",
            "svc",
            "asked",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[*].ip}",
        ]);
        (out.trim() == "172.18.255.220").then_some(())
    });
    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--name=clash",
        "--type=LoadBalancer",
        "--port=81",
        "--target-port=8080",
        "--load-balancer-ip=172.18.255.220",
    ]);
    let events = eventually(60, "an AllocationFailed event about clash", || {
        let out = lab.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=clash,reason=AllocationFailed",
        ]);
        out.contains("already allocated").then_some(out)
    });
    assert!(events.contains("default/asked"), "{events}");
    let pending = lab.kubectl_ok(&["get", "svc", "clash"]);
    assert!(pending.contains("<pending>"), "{pending}");

    // Deleting the holder frees the address: the waiting Service gets it.
    lab.kubectl_ok(&["delete", "svc", "asked"]);
    assert_eq!(external_ip(&lab, "clash"), "172.18.255.220");
}
