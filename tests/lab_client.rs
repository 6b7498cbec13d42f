//! The built-in client: `podnet lab apply`, `get` and `delete`, without kubectl.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, WEB, eventually, manifest, show};

#[test]
fn apply_creates_then_reports_unchanged_and_configured() {
    let lab = Lab::up("client-apply", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", WEB);
    let web = web.to_str().unwrap();

    let out = lab.ok(&["apply", "-f", web]);
    assert_eq!(out, "deployment.apps/web created\nservice/web created\n");
    // A second later, so that a bookkeeping-only change (managedFields time) would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = lab.ok(&["apply", "-f", web]);
    assert_eq!(
        out,
        "deployment.apps/web unchanged\nservice/web unchanged\n"
    );
    let changed = WEB.replace("replicas: 2", "replicas: 4");
    let web4 = manifest(tmp.path(), "web4.yaml", &changed);
    let out = lab.ok(&["apply", "-f", web4.to_str().unwrap()]);
    assert_eq!(
        out,
        "deployment.apps/web configured\nservice/web unchanged\n"
    );
    let replicas = lab.ok(&["get", "deploy", "web", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&replicas).unwrap();
    assert_eq!(v["spec"]["replicas"], 4);
}

#[test]
fn apply_reads_directories_and_stdin() {
    let lab = Lab::up("client-sources", &[]);
    let tmp = tempfile::tempdir().unwrap();
    manifest(
        tmp.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    );
    manifest(
        tmp.path(),
        "b.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "kube-system"}}"#,
    );
    manifest(tmp.path(), "notes.txt", "not a manifest");
    let out = lab.ok(&["apply", "-f", tmp.path().to_str().unwrap()]);
    assert_eq!(out, "configmap/a created\nconfigmap/b created\n");

    let mut child = std::process::Command::new(support::PODNET)
        .args([
            "lab",
            "apply",
            "-f",
            "-",
            "-n",
            "kube-public",
            "--name",
            &lab.name,
            "--state-dir",
        ])
        .arg(lab.root.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "configmap/c created\n"
    );
    let names = lab.ok(&["get", "cm", "-A", "-o", "name"]);
    // Listed by namespace, then name: default, kube-public, kube-system (where the lab's
    // cluster DNS keeps its Corefile); every namespace also has the cluster's CA, as upstream.
    let ours: Vec<&str> = names
        .lines()
        .filter(|n| *n != "configmap/kube-root-ca.crt")
        .collect();
    assert_eq!(
        ours,
        [
            "configmap/a",
            "configmap/c",
            "configmap/b",
            "configmap/coredns"
        ]
    );
}

#[test]
fn get_prints_the_servers_table_by_any_kind_name() {
    let lab = Lab::up("client-get", &["-f", "examples/lab/web.yaml"]);
    let nodes = lab.ok(&["get", "nodes"]);
    let header: Vec<&str> = nodes.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(nodes.lines().count(), 4);
    let wide = lab.ok(&["get", "no", "-o", "wide"]);
    assert!(
        wide.lines().next().unwrap().contains("INTERNAL-IP"),
        "{wide}"
    );
    assert!(wide.contains("172.18.0.3"), "{wide}");

    for kind in ["po", "pod", "pods", "Pod"] {
        eventually(20, "2 pods", || {
            let out = lab.ok(&["get", kind, "-l", "app=web"]);
            (out.lines().count() == 3).then_some(())
        });
    }
    for kind in [
        "deploy",
        "deployments.apps",
        "svc",
        "eps",
        "endpointslices",
        "ns",
    ] {
        let out = lab.podnet(&["get", kind, "-A"]);
        assert!(out.status.success(), "get {kind}: {}", show(&out));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("NAMESPACE") || kind == "ns");
    }
    let both = lab.ok(&["get", "svc,deploy"]);
    assert!(both.contains("service/web"), "{both}");
    assert!(both.contains("deployment.apps/web"), "{both}");
    let yaml = lab.ok(&["get", "svc", "web", "-o", "yaml"]);
    assert!(yaml.contains("kind: Service\n"), "{yaml}");

    let unknown = lab.podnet(&["get", "widgets"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("the server doesn't have a resource type \"widgets\"")
    );
    let empty = lab.podnet(&["get", "pods", "-n", "kube-public"]);
    assert!(empty.status.success());
    assert_eq!(
        String::from_utf8_lossy(&empty.stderr),
        "No resources found in kube-public namespace.\n"
    );
}

#[test]
fn errors_name_the_object_and_the_field() {
    let lab = Lab::up("client-errors", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let bad = manifest(
        tmp.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports:\n  - port: 70000\n",
    );
    let out = lab.podnet(&["apply", "-f", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml (document 1)"), "{err}");
    assert!(err.contains("Error from server (Invalid)"), "{err}");
    assert!(
        err.contains("spec.ports[0].port: Invalid value: 70000"),
        "{err}"
    );

    let nameless = manifest(
        tmp.path(),
        "nameless.yaml",
        "apiVersion: v1\nkind: ConfigMap\n",
    );
    let out = lab.podnet(&["apply", "-f", nameless.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("metadata.name: Required value"));

    let missing = lab.podnet(&["get", "deploy", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("Error from server (NotFound)"));
}

#[test]
fn delete_by_manifest_and_by_name() {
    let lab = Lab::up("client-delete", &["-f", "examples/lab/web.yaml"]);
    let tmp = tempfile::tempdir().unwrap();
    let web = manifest(tmp.path(), "web.yaml", WEB);
    let out = lab.ok(&["delete", "-f", web.to_str().unwrap()]);
    assert_eq!(
        out,
        "deployment.apps \"web\" deleted\nservice \"web\" deleted\n"
    );
    let again = lab.podnet(&["delete", "-f", web.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("NotFound"));
    lab.ok(&["delete", "-f", web.to_str().unwrap(), "--ignore-not-found"]);

    lab.ok(&["apply", "-f", web.to_str().unwrap()]);
    let out = lab.ok(&["delete", "svc", "web"]);
    assert_eq!(out, "service \"web\" deleted\n");
    assert!(!lab.podnet(&["get", "svc", "web"]).status.success());
}
