//! Gateway API on a lab, from the external host: `lab up` installs the standard-channel
//! CRDs; a GatewayClass naming podnet's controller, a Gateway with an HTTP listener and an
//! HTTPRoute are served, with the status conditions the spec defines. The scenarios mirror
//! the core conformance tests they are named after. The gateway's LoadBalancer address is
//! not announced on the node network yet (no ARP): the external host goes through the
//! gateway Service's NodePort.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, eventually, manifest};

const OBJECTS: &str = "\
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: podnet
spec:
  controllerName: podnet.io/gateway
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: podnet
  listeners:
  - name: http
    protocol: HTTP
    port: 80
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: split
spec:
  parentRefs:
  - name: gw
  hostnames: [split.example]
  rules:
  - matches:
    - headers:
      - name: env
        value: canary
    backendRefs:
    - {name: web2, port: 8080}
  - backendRefs:
    - {name: web, port: 8080, weight: 1}
    - {name: web2, port: 8080, weight: 1}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cross-namespace
spec:
  parentRefs:
  - name: gw
  hostnames: [cross.example]
  rules:
  - backendRefs:
    - {name: web, namespace: other, port: 8080}
";

fn nodeport_gateway(lab: &Lab) -> (String, String) {
    let port = lab.kubectl_ok(&[
        "get",
        "svc",
        "-n",
        "podnet-gateway",
        "podnet-gateway",
        "-o",
        "jsonpath={.spec.ports[?(@.name==\"http\")].nodePort}",
    ]);
    let ip = lab.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}",
    ]);
    (ip.trim().to_owned(), port.trim().to_owned())
}

/// The hello-app version answering a request from the external host, or None.
fn version(lab: &Lab, gw: &(String, String), host: &str, header: Option<&str>) -> Option<String> {
    let (ip, port) = gw;
    let resolve = format!("{host}:{port}:{ip}");
    let url = format!("http://{host}:{port}/");
    let mut args = vec![
        "external-exec",
        "--",
        "curl",
        "-sS",
        "-m",
        "5",
        "--resolve",
        &resolve,
    ];
    if let Some(h) = header {
        args.extend(["-H", h]);
    }
    args.push(&url);
    let out = lab.podnet(&args);
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    body.lines()
        .find_map(|l| l.strip_prefix("Version: ").map(str::to_owned))
}

fn condition(lab: &Lab, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend(what);
    let jsonpath = format!("jsonpath={path}");
    args.extend(["-o", &jsonpath]);
    lab.kubectl_ok(&args).trim().to_owned()
}

#[test]
fn lab_gateway_api_http_route_header_matching_weight_and_status() {
    let lab = Lab::up("gwapi", &[]);
    let crds = lab.kubectl_ok(&["get", "crd"]);
    for crd in [
        "gatewayclasses",
        "gateways",
        "httproutes",
        "referencegrants",
    ] {
        assert!(
            crds.contains(&format!("{crd}.gateway.networking.k8s.io")),
            "{crds}"
        );
    }
    lab.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=gcr.io/google-samples/hello-app:1.0",
    ]);
    lab.kubectl_ok(&["expose", "deployment", "web", "--port=8080"]);
    lab.kubectl_ok(&[
        "create",
        "deployment",
        "web2",
        "--image=gcr.io/google-samples/hello-app:2.0",
    ]);
    lab.kubectl_ok(&["expose", "deployment", "web2", "--port=8080"]);
    let tmp = tempfile::tempdir().unwrap();
    let objects = manifest(tmp.path(), "gateway-api.yaml", OBJECTS);
    lab.kubectl_ok(&["apply", "-f", objects.to_str().unwrap()]);
    for d in ["web", "web2"] {
        lab.kubectl_ok(&[
            "rollout",
            "status",
            &format!("deployment/{d}"),
            "--timeout=120s",
        ]);
    }

    // GatewayClassObservedGenerationBump / GatewaySetup: Accepted class, Programmed
    // Gateway with the gateway Service's address.
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Accepted",
        "gatewayclass/podnet",
        "--timeout=60s",
    ]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Programmed",
        "gateway/gw",
        "--timeout=60s",
    ]);
    let address = condition(&lab, &["gateway", "gw"], "{.status.addresses[0].value}");
    assert!(address.starts_with("172.18.255."), "{address}");
    let attached = condition(
        &lab,
        &["gateway", "gw"],
        "{.status.listeners[0].attachedRoutes}",
    );
    assert_eq!(attached, "2");

    // HTTPRouteHeaderMatching: the header rule wins over the unconditional one.
    let gw = nodeport_gateway(&lab);
    eventually(60, "the canary header to reach v2", || {
        (version(&lab, &gw, "split.example", Some("env: canary")).as_deref() == Some("2.0.0"))
            .then_some(())
    });
    for _ in 0..5 {
        assert_eq!(
            version(&lab, &gw, "split.example", Some("env: canary")).as_deref(),
            Some("2.0.0")
        );
    }
    // HTTPRouteWeight: equal weights reach both backends.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        if let Some(v) = version(&lab, &gw, "split.example", None) {
            seen.insert(v);
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["1.0.0", "2.0.0"]);

    // HTTPRouteInvalidCrossNamespaceBackendRef: accepted, but ResolvedRefs=False with
    // RefNotPermitted, and its traffic answered 500.
    let reason = eventually(60, "the cross-namespace route's ResolvedRefs", || {
        let r = condition(
            &lab,
            &["httproute", "cross-namespace"],
            "{.status.parents[0].conditions[?(@.type==\"ResolvedRefs\")].reason}",
        );
        (!r.is_empty()).then_some(r)
    });
    assert_eq!(reason, "RefNotPermitted");
    let accepted = condition(
        &lab,
        &["httproute", "split"],
        "{.status.parents[0].conditions[?(@.type==\"Accepted\")].status}",
    );
    assert_eq!(accepted, "True");
    let (ip, port) = &gw;
    let resolve = format!("cross.example:{port}:{ip}");
    let code = lab.ok(&[
        "external-exec",
        "--",
        "curl",
        "-sS",
        "-m",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--resolve",
        &resolve,
        &format!("http://cross.example:{port}/"),
    ]);
    assert_eq!(code, "500");
}
