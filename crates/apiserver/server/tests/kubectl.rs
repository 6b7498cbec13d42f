//! The server driven by the real, current kubectl with its default flags (see
//! support/kubectl.rs for where kubectl is found).

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use kubectl::Kubectl;
use serde_json::json;
use support::TestServer;

/// The header words of a `kubectl get` table.
fn header(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn row<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{out}"))
        .split_whitespace()
        .collect()
}

const MANIFEST: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports:
        - containerPort: 8080
          name: http
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: http
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_applies_patches_labels_and_deletes() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());

    let out = k.run(&["get", "namespaces"]).await;
    assert_eq!(header(&out), ["NAME", "STATUS", "AGE"]);
    assert_eq!(row(&out, "default")[1], "Active");
    assert_eq!(row(&out, "kube-system")[1], "Active");

    let client = server.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "lab-control-plane",
        "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.37.0", "machineID": "", "systemUUID": "",
                "bootID": "", "kernelVersion": "6.18", "osImage": "podnet lab",
                "containerRuntimeVersion": "podnet://0.1", "kubeProxyVersion": "",
                "operatingSystem": "linux", "architecture": "amd64"}}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let out = k.run(&["get", "nodes"]).await;
    assert_eq!(header(&out), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let r = row(&out, "lab-control-plane");
    assert_eq!((r[1], r[2], r[4]), ("Ready", "control-plane", "v1.37.0"));

    let manifest = k.write("web.yaml", MANIFEST);
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("service/web created"), "{out}");
    let out = k.run(&["get", "svc", "web"]).await;
    assert_eq!(
        header(&out),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert_eq!(row(&out, "web")[4], "80/TCP");
    let out = k.run(&["get", "deployments"]).await;
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert_eq!(row(&out, "web")[1], "0/1");

    // A pod as a node would report it, for the wide columns.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "web-1", "labels": {"app": "web"}},
        "spec": {"nodeName": "lab-control-plane",
            "containers": [{"name": "web", "image": "agnhost"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = json!({"status": {"phase": "Running", "podIP": "10.244.0.5",
        "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0, "image": "agnhost",
            "imageID": "", "state": {"running": {}}}]}});
    pods.patch_status("web-1", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let out = k.run(&["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        header(&out),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    let r = row(&out, "web-1");
    assert_eq!(
        (r[1], r[2], r[3], r[5], r[6], r[7], r[8]),
        (
            "1/1",
            "Running",
            "0",
            "10.244.0.5",
            "lab-control-plane",
            "<none>",
            "<none>"
        )
    );

    let out = k
        .run(&[
            "patch",
            "deployment",
            "web",
            "-p",
            r#"{"spec":{"replicas":2}}"#,
        ])
        .await;
    assert!(out.contains("deployment.apps/web patched"), "{out}");
    let out = k.run(&["scale", "deployment", "web", "--replicas=3"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let out = k
        .run(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.spec.replicas}",
        ])
        .await;
    assert_eq!(out, "3");

    let out = k.run(&["label", "pod", "web-1", "tier=front"]).await;
    assert!(out.contains("pod/web-1 labeled"), "{out}");
    let out = k
        .run(&["get", "pods", "-l", "tier=front", "-o", "name"])
        .await;
    assert_eq!(out.trim(), "pod/web-1");
    let (ok, _, err) = k.try_run(&["label", "pod", "web-1", "tier=back"]).await;
    assert!(!ok && err.contains("already has a value"), "{err}");

    let out = k.run(&["get", "endpointslices"]).await;
    assert!(out.is_empty() || out.contains("No resources"), "{out}");

    let out = k.run(&["delete", "service", "web"]).await;
    assert!(out.contains("service \"web\" deleted"), "{out}");
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(out.contains("service/web created"), "{out}");
    assert!(
        out.contains("deployment.apps/web configured")
            || out.contains("deployment.apps/web unchanged"),
        "{out}"
    );

    // Validation errors come back as kubectl prints the API server's.
    let bad = k.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 70000}]\n",
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &bad]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"
        ),
        "{err}"
    );
    let unknown = k.write(
        "unknown.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nspec: {x: 1}\n",
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &unknown]).await;
    assert!(!ok && err.contains("unknown field \"spec\""), "{err}");
}
