//! `podnet gateway` in a lab, from the external host (203.0.113.10): the Kubernetes
//! documentation's Ingress tutorial ("Set up Ingress on Minikube with the NGINX Ingress
//! Controller", hello-app v1 and v2 on one host; only the class differs), and TLS with a
//! Secret; the gateway's own ServiceAccount and its rights; the drill "100 route changes while
//! wrk runs: zero failed requests" and an endpoint killed under load (only requests in flight
//! fail). The gateway's LoadBalancer address is not announced on the node network yet (no
//! ARP), so the external host reaches the gateway Service through its NodePort on a node.

#[path = "lab/support.rs"]
mod support;

#[path = "lab/l2.rs"]
mod l2;

use support::{Lab, eventually, manifest};

/// Route changes made while wrk runs.
const CHURN: usize = 100;

/// The tutorial's Ingress, with `ingressClassName: podnet`, after its second step (/v2).
const EXAMPLE_INGRESS: &str = "\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: example-ingress
spec:
  ingressClassName: podnet
  rules:
    - host: hello-world.example
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: web
                port:
                  number: 8080
          - path: /v2
            pathType: Prefix
            backend:
              service:
                name: web2
                port:
                  number: 8080
";

/// The NodePort of the gateway Service's port `name` on the first node.
fn gateway_url(lab: &Lab, name: &str) -> String {
    let port = lab.kubectl_ok(&[
        "get",
        "svc",
        "-n",
        "podnet-gateway",
        "podnet-gateway",
        "-o",
        &format!("jsonpath={{.spec.ports[?(@.name==\"{name}\")].nodePort}}"),
    ]);
    let node_ip = lab.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    format!("{}:{}", node_ip.trim(), port.trim())
}

/// curl from the external host, resolving `host` to the gateway; (exit ok, stdout).
fn curl_external(
    lab: &Lab,
    gateway: &str,
    scheme: &str,
    host: &str,
    path: &str,
    extra: &[&str],
) -> (bool, String) {
    let (ip, port) = gateway.split_once(':').unwrap();
    let resolve = format!("{host}:{port}:{ip}");
    let url = format!("{scheme}://{host}:{port}{path}");
    let args = [
        &[
            "external-exec",
            "--",
            "curl",
            "-sS",
            "-m",
            "5",
            "--resolve",
            &resolve,
        ][..],
        extra,
        &[&url],
    ]
    .concat();
    let out = lab.podnet(&args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn lab_gateway_ingress_tutorial_and_tls() {
    let lab = Lab::up("gw", &[]);
    // The gateway is installed by `lab up`: the default IngressClass and its Deployment.
    let classes = lab.kubectl_ok(&["get", "ingressclass"]);
    assert!(
        classes.contains("podnet") && classes.contains("podnet.io/gateway"),
        "{classes}"
    );
    lab.kubectl_ok(&[
        "rollout",
        "status",
        "-n",
        "podnet-gateway",
        "deployment/podnet-gateway",
        "--timeout=120s",
    ]);
    // It runs as its own ServiceAccount (in-cluster credentials, no admin kubeconfig) with
    // exactly what it uses: list/watch of its inputs, status patches of what it reports.
    let args = lab.kubectl_ok(&[
        "get",
        "deployment",
        "-n",
        "podnet-gateway",
        "podnet-gateway",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].args}",
    ]);
    assert!(!args.contains("kubeconfig"), "{args}");
    let gateway = "--as=system:serviceaccount:podnet-gateway:podnet-gateway";
    for (verb, resource, subresource, want) in [
        ("watch", "secrets", "", "yes"),
        ("patch", "ingresses.networking.k8s.io", "status", "yes"),
        (
            "patch",
            "httproutes.gateway.networking.k8s.io",
            "status",
            "yes",
        ),
        ("update", "ingresses.networking.k8s.io", "status", "no"),
        ("get", "secrets", "", "no"),
        ("patch", "ingresses.networking.k8s.io", "", "no"),
        ("create", "deployments.apps", "", "no"),
    ] {
        let sub = format!("--subresource={subresource}");
        let out = lab.kubectl(&["auth", "can-i", verb, resource, &sub, "-A", gateway]);
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert_eq!(said, want, "can the gateway {verb} {resource} {sub}?");
    }

    // The tutorial: two deployments of hello-app, exposed, and the Ingress.
    lab.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=gcr.io/google-samples/hello-app:1.0",
    ]);
    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web",
        "--type=NodePort",
        "--port=8080",
    ]);
    lab.kubectl_ok(&[
        "create",
        "deployment",
        "web2",
        "--image=gcr.io/google-samples/hello-app:2.0",
    ]);
    lab.kubectl_ok(&[
        "expose",
        "deployment",
        "web2",
        "--port=8080",
        "--type=NodePort",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let ingress = manifest(tmp.path(), "example-ingress.yaml", EXAMPLE_INGRESS);
    lab.kubectl_ok(&["apply", "-f", ingress.to_str().unwrap()]);
    for d in ["web", "web2"] {
        lab.kubectl_ok(&[
            "rollout",
            "status",
            &format!("deployment/{d}"),
            "--timeout=120s",
        ]);
    }

    // `kubectl get ingress` shows the address it is served on: the gateway's EXTERNAL-IP.
    let lb = eventually(60, "the gateway Service's EXTERNAL-IP", || {
        let ip = lab.kubectl_ok(&[
            "get",
            "svc",
            "-n",
            "podnet-gateway",
            "podnet-gateway",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ]);
        (!ip.trim().is_empty()).then(|| ip.trim().to_owned())
    });
    eventually(60, "the Ingress's ADDRESS", || {
        let shown = lab.kubectl_ok(&["get", "ingress", "example-ingress"]);
        shown.contains(&lb).then_some(())
    });

    let gateway = gateway_url(&lab, "http");
    let v1 = eventually(60, "hello-app v1 through the gateway", || {
        let (ok, body) = curl_external(&lab, &gateway, "http", "hello-world.example", "/", &[]);
        (ok && body.contains("Version: 1.0.0")).then_some(body)
    });
    assert!(
        v1.contains("Hello, world!") && v1.contains("Hostname: web-"),
        "{v1}"
    );
    let v2 = eventually(60, "hello-app v2 at /v2", || {
        let (ok, body) = curl_external(&lab, &gateway, "http", "hello-world.example", "/v2", &[]);
        (ok && body.contains("Version: 2.0.0")).then_some(body)
    });
    assert!(v2.contains("Hostname: web2-"), "{v2}");
    // Another host matches no rule: 404.
    let (_, code) = curl_external(
        &lab,
        &gateway,
        "http",
        "other.example",
        "/",
        &["-o", "/dev/null", "-w", "%{http_code}"],
    );
    assert_eq!(code, "404");

    // TLS: a Secret made by `kubectl create secret tls`, named by the Ingress's spec.tls;
    // curl checks the certificate against its own CA file.
    let dir = tmp.path();
    let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=secure.example",
            "-addext",
            "subjectAltName=DNS:secure.example",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    lab.kubectl_ok(&[
        "create",
        "secret",
        "tls",
        "secure-tls",
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    lab.kubectl_ok(&[
        "create",
        "ingress",
        "secure",
        "--class=podnet",
        "--rule=secure.example/*=web2:8080,tls=secure-tls",
    ]);
    // The external host has no copy of the test's files: the CA goes in as an argument.
    let tls_gateway = gateway_url(&lab, "https");
    let pem = std::fs::read_to_string(&crt).unwrap();
    let (ip, port) = tls_gateway.split_once(':').unwrap();
    let script = format!(
        "ca=$(mktemp) && printf '%s\\n' \"$1\" > $ca && curl -sS -m 5 --cacert $ca --resolve secure.example:{port}:{ip} https://secure.example:{port}/; rc=$?; rm -f $ca; exit $rc"
    );
    let body = eventually(60, "hello-app v2 over TLS", || {
        let out = lab.podnet(&["external-exec", "--", "sh", "-c", &script, "sh", &pem]);
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.success() && body.contains("Version: 2.0.0")).then_some(body)
    });
    assert!(body.contains("Hostname: web2-"), "{body}");

    // The gateway counts what it served.
    let pod = lab.kubectl_ok(&[
        "get",
        "pods",
        "-n",
        "podnet-gateway",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let metrics = lab.ok(&[
        "exec",
        "-n",
        "podnet-gateway",
        pod.trim(),
        "--",
        "curl",
        "-sS",
        "http://127.0.0.1:10254/metrics",
    ]);
    assert!(
        metrics.contains(
            "route=\"Ingress/default/example-ingress\",backend=\"default/web2:8080\",code=\"200\""
        ),
        "{metrics}"
    );
    route_churn_under_load_fails_no_request(&lab, &gateway);
    endpoint_killed_under_load_fails_only_requests_in_flight(&lab, &gateway);
}

/// The drill: `/` spread over two web pods, one pod's container killed (SIGKILL, by its
/// pid) while wrk runs. Connects refused by the dead endpoint are retried on the other one,
/// so no more requests fail than were in flight on it: at most one per wrk connection.
fn endpoint_killed_under_load_fails_only_requests_in_flight(lab: &Lab, gateway: &str) {
    lab.kubectl_ok(&["scale", "deployment", "web", "--replicas=2"]);
    lab.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    eventually(60, "both web pods to serve through the gateway", || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..6 {
            let (ok, body) = curl_external(lab, gateway, "http", "hello-world.example", "/", &[]);
            let host = body.lines().find_map(|l| l.strip_prefix("Hostname: "));
            if let (true, Some(host)) = (ok, host) {
                seen.insert(host.to_owned());
            }
        }
        (seen.len() == 2).then_some(())
    });
    let victim = lab
        .kubectl_ok(&[
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            "jsonpath={.items[0].metadata.name}",
        ])
        .trim()
        .to_owned();
    let container = |field: &str| {
        lab.kubectl_ok(&[
            "get",
            "pod",
            &victim,
            "-o",
            &format!("jsonpath={{.status.containerStatuses[0].{field}}}"),
        ])
        .trim()
        .to_owned()
    };
    let pid = container("containerID").replace("podnet://", "");
    let url = format!("http://{gateway}/");
    let wrk = l2::Background::start(
        lab,
        "external",
        &[
            "wrk",
            "-t",
            "2",
            "-c",
            "8",
            "-d",
            "600s",
            "--timeout",
            "5s",
            "-H",
            "Host: hello-world.example",
            &url,
        ],
    );
    // Load is flowing before the kill: the external host is served alongside wrk.
    eventually(60, "requests to flow under load", || {
        curl_external(lab, gateway, "http", "hello-world.example", "/", &[])
            .0
            .then_some(())
    });
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -KILL {pid}");
    // The kubelet restarts the container; load runs on until it serves again.
    eventually(120, "the killed container to be restarted", || {
        (container("restartCount").parse::<u32>().unwrap_or(0) >= 1).then_some(())
    });
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        &format!("pod/{victim}"),
        "--timeout=120s",
    ]);
    let summary = wrk.interrupt();
    println!("wrk while an endpoint was killed:\n{summary}");
    assert!(!summary.contains("Socket errors"), "{summary}");
    let failed: u64 = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0);
    assert!(
        failed <= 8,
        "{failed} failed requests, more than the 8 that can be in flight:\n{summary}"
    );
}

/// The drill: wrk from the external host keeps 8 connections busy on `/` while the
/// Ingress's other path is changed 100 times; every change swaps the gateway's routes, and
/// not one request may fail (wrk's non-2xx/3xx count and socket errors both absent).
fn route_churn_under_load_fails_no_request(lab: &Lab, gateway: &str) {
    let url = format!("http://{gateway}/");
    // Ended by SIGINT once the changes are made, which makes wrk print its summary.
    let wrk = l2::Background::start(
        lab,
        "external",
        &[
            "wrk",
            "-t",
            "2",
            "-c",
            "8",
            "-d",
            "600s",
            "--timeout",
            "5s",
            "-H",
            "Host: hello-world.example",
            &url,
        ],
    );
    for n in 0..CHURN {
        let patch = format!(
            r#"[{{"op":"replace","path":"/spec/rules/0/http/paths/1/path","value":"/v2-{n}"}}]"#
        );
        lab.kubectl_ok(&[
            "patch",
            "ingress",
            "example-ingress",
            "--type=json",
            "-p",
            &patch,
        ]);
    }
    // The last change is served: the gateway followed all of them.
    let last = format!("/v2-{}", CHURN - 1);
    eventually(60, "the last route change to be served", || {
        let (ok, body) = curl_external(lab, gateway, "http", "hello-world.example", &last, &[]);
        (ok && body.contains("Version: 2.0.0")).then_some(())
    });
    let summary = wrk.interrupt();
    println!("wrk during {CHURN} route changes:\n{summary}");
    let requests: u64 = summary
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk's summary:\n{summary}"));
    assert!(requests > 0, "{summary}");
    assert!(
        !summary.contains("Non-2xx or 3xx responses") && !summary.contains("Socket errors"),
        "requests failed while routes changed:\n{summary}"
    );
}
