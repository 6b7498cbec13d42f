//! `podnet lab up`, then the current kubectl with its default flags, as a user would drive a
//! kind cluster: nodes, namespaces, apply, scale, get -o wide, endpointslices, patch, label,
//! delete, apply again. The nodes' kubelets run the pods, so their endpoints turn ready.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, WEB, eventually, manifest};

#[test]
fn kubectl_drives_the_lab_like_a_cluster() {
    let lab = Lab::up("kubectl", &[]);

    let nodes = lab.kubectl_ok(&["get", "nodes"]);
    assert_eq!(nodes.lines().count(), 4, "{nodes}");
    let cidrs = lab.kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"]);
    assert_eq!(cidrs, "10.244.0.0/24 10.244.1.0/24 10.244.2.0/24");
    let names = lab.kubectl_ok(&["get", "nodes", "-o", "name"]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            format!("node/{}-control-plane", lab.name),
            format!("node/{}-worker", lab.name),
            format!("node/{}-worker2", lab.name),
        ]
    );

    let namespaces = lab.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(
            namespaces.contains(&format!("namespace/{ns}\n")),
            "{namespaces}"
        );
    }

    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", WEB);
    let applied = lab.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    assert!(applied.contains("deployment.apps/web created"), "{applied}");
    assert!(applied.contains("service/web created"), "{applied}");

    lab.kubectl_ok(&["scale", "deployment/web", "--replicas=3"]);
    let wide = eventually(20, "3 scheduled pods", || {
        let out = lab.kubectl_ok(&["get", "pods", "-o", "wide", "-l", "app=web"]);
        let rows: Vec<&str> = out.lines().skip(1).collect();
        let scheduled = rows.iter().filter(|r| r.contains(&lab.name)).count();
        (rows.len() == 3 && scheduled == 3).then_some(out)
    });
    let header = wide.lines().next().unwrap();
    for col in ["NAME", "READY", "STATUS", "IP", "NODE"] {
        assert!(header.contains(col), "{wide}");
    }
    // The control-plane node is tainted: the scheduler spreads over the workers.
    assert!(!wide.contains("control-plane"), "{wide}");
    // The nodes' kubelets run them.
    eventually(20, "3 running pods", || {
        let out = lab.kubectl_ok(&["get", "pods", "-l", "app=web"]);
        (out.matches("Running").count() == 3).then_some(())
    });

    let slices = eventually(20, "web's EndpointSlice", || {
        let out = lab.kubectl_ok(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ready = v["items"][0]["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|ep| ep["conditions"]["ready"] == true)
            .count();
        (v["items"].as_array().unwrap().len() == 1 && ready == 3).then_some(v)
    });
    let slice = &slices["items"][0];
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    for ep in slice["endpoints"].as_array().into_iter().flatten() {
        assert_eq!(ep["targetRef"]["kind"], "Pod", "{slice}");
    }
    assert!(lab.kubectl_ok(&["get", "endpointslices"]).contains("web-"));

    let patched = lab.kubectl_ok(&[
        "patch",
        "service",
        "web",
        "-p",
        // Service ports merge by `port` (their patchMergeKey), as upstream.
        r#"{"spec":{"ports":[{"port":80,"targetPort":8081}]}}"#,
    ]);
    assert!(patched.contains("service/web patched"), "{patched}");
    let port = lab.kubectl_ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.ports[*].targetPort}",
    ]);
    assert_eq!(port, "8081");

    lab.kubectl_ok(&["label", "deployment", "web", "tier=frontend"]);
    let labels = lab.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.labels.tier}",
    ]);
    assert_eq!(labels, "frontend");

    let deleted = lab.kubectl_ok(&["delete", "-f", web.to_str().unwrap()]);
    assert!(
        deleted.contains("deployment.apps \"web\" deleted"),
        "{deleted}"
    );
    let gone = lab.kubectl(&["get", "deployment", "web"]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("NotFound"));

    let again = lab.kubectl_ok(&["apply", "-f", web.to_str().unwrap()]);
    assert!(again.contains("deployment.apps/web created"), "{again}");
    // The old pods are bound to nodes that run nothing yet: they stay Terminating (as they
    // would on a cluster whose kubelets are down), and the new deployment gets 2 of its own.
    eventually(20, "2 live pods of the new deployment", || {
        let out = lab.kubectl_ok(&["get", "pods", "-l", "app=web", "-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let live = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .count();
        (live == 2).then_some(())
    });
}

#[test]
fn kubectl_sees_validation_errors_with_field_paths() {
    let lab = Lab::up("kubectl-422", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let bad = manifest(
        tmp.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n",
    );
    let out = lab.kubectl(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec.ports[0].port"), "{err}");
}
