//! A lab's life: up (with a kind config), status, list, kubeconfig, up again, down; two labs
//! side by side; config errors reported by path before anything starts.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, alive, manifest};

#[test]
fn down_leaves_no_process_and_no_state() {
    let lab = Lab::up("down", &[]);
    let pid = lab.daemon_pid();
    assert!(alive(pid));
    let out = lab.podnet(&["down"]);
    assert!(out.status.success());
    assert!(!alive(pid), "daemon {pid} still runs after down");
    assert!(!lab.dir().exists(), "state left in {}", lab.dir().display());
    assert!(lab.ok(&["list"]).is_empty());
}

#[test]
fn down_keep_state_then_up_brings_the_objects_back() {
    let lab = Lab::up("keep", &["-f", "examples/lab/web.yaml"]);
    let pid = lab.daemon_pid();
    lab.ok(&["down", "--keep-state"]);
    assert!(!alive(pid));
    assert!(lab.dir().join("store").exists());
    let status = lab.ok(&["status"]);
    assert!(status.contains("Daemon:      not running"), "{status}");
    lab.ok(&["up"]);
    assert_eq!(
        lab.ok(&["get", "deploy", "-o", "name"]),
        "deployment.apps/web\n"
    );
}

#[test]
fn two_labs_side_by_side() {
    let a = Lab::up("side-a", &[]);
    // The second lab under the same state directory, as `podnet lab list` sees them.
    let b = BLab(
        a.root.path().to_path_buf(),
        format!("t-side-b-{}", std::process::id()),
    );
    let out = b.run(&["up"]);
    assert!(out.status.success(), "{}", support::show(&out));
    let b_addr = std::fs::read_to_string(b.0.join(&b.1).join("address")).unwrap();
    assert_ne!(a.address(), b_addr.trim());
    let tmp = tempfile::tempdir().unwrap();
    let cm = manifest(
        tmp.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: only-in-a\n",
    );
    a.ok(&["apply", "-f", cm.to_str().unwrap()]);
    assert!(!b.run(&["get", "cm", "only-in-a"]).status.success());

    let list = a.ok(&["list"]);
    assert!(list.contains(&a.name) && list.contains(&b.1), "{list}");
    assert_eq!(list.matches("running").count(), 2, "{list}");

    // Downing one leaves the other running.
    assert!(b.run(&["down"]).status.success());
    assert_eq!(
        a.ok(&["get", "cm", "only-in-a", "-o", "name"]),
        "configmap/only-in-a\n"
    );
}

/// The second lab of `two_labs_side_by_side`, downed on drop too.
struct BLab(std::path::PathBuf, String);

impl BLab {
    fn run(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(support::PODNET)
            .arg("lab")
            .args(args)
            .args(["--name", &self.1, "--state-dir"])
            .arg(&self.0)
            .output()
            .unwrap()
    }
}

impl Drop for BLab {
    fn drop(&mut self) {
        let _ = self.run(&["down"]);
    }
}

#[test]
fn up_with_a_kind_config_names_nodes_and_subnets_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "kind.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n  labels:\n    tier: edge\n  image: kindest/node:v1.33.1\nnetworking:\n  podSubnet: 10.100.0.0/16\n  serviceSubnet: 10.200.0.0/16\n",
    );
    let lab = Lab::new("config");
    let out = lab.podnet(&["up", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", support::show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("note: nodes[1].image: ignored"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("export KUBECONFIG={}", lab.kubeconfig().display())));
    assert!(stdout.contains("10.100.1.0/24"), "{stdout}");

    let nodes = lab.kubectl_ok(&["get", "nodes", "-l", "tier=edge", "-o", "name"]);
    assert_eq!(nodes, format!("node/{}-worker\n", lab.name));
    let tmp2 = tempfile::tempdir().unwrap();
    let svc = manifest(
        tmp2.path(),
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: 80\n",
    );
    lab.ok(&["apply", "-f", svc.to_str().unwrap()]);
    let ip = lab.kubectl_ok(&["get", "svc", "s", "-o", "jsonpath={.spec.clusterIP}"]);
    assert!(
        ip.starts_with("10.200."),
        "ClusterIP {ip} not from the config's serviceSubnet"
    );
    assert_eq!(
        lab.ok(&["kubeconfig"]).trim(),
        lab.kubeconfig().to_str().unwrap()
    );
    let ctx = lab.kubectl_ok(&["config", "current-context"]);
    assert_eq!(ctx.trim(), format!("podnet-{}", lab.name));

    // A running lab: `up` again is a no-op that prints the summary; another config is refused.
    let again = lab.podnet(&["up"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));
    let other = manifest(
        tmp.path(),
        "other.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
    );
    let refused = lab.podnet(&["up", "--config", other.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("exists with another cluster config")
    );

    let status = lab.ok(&["status"]);
    assert!(status.contains("Daemon:      running"), "{status}");
    assert!(status.contains("2 nodes"), "{status}");
}

#[test]
fn config_errors_name_the_file_and_field_and_start_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let config = manifest(
        tmp.path(),
        "typo.yaml",
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  podSubnt: 10.244.0.0/16\n",
    );
    let lab = Lab::new("typo");
    let out = lab.podnet(&["up", "--config", config.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("typo.yaml"), "{err}");
    assert!(err.contains("networking.podSubnt: unknown field"), "{err}");
    assert!(!lab.dir().exists());
}

#[test]
fn up_refuses_an_ipv6_or_dual_stack_lab_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    for family in ["ipv6", "dual"] {
        let config = manifest(
            tmp.path(),
            "kind.yaml",
            &format!(
                "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  ipFamily: {family}\n"
            ),
        );
        let lab = Lab::new(&format!("fam-{family}"));
        let out = lab.podnet(&["up", "--config", config.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("networking.ipFamily"), "{err}");
        assert!(!lab.dir().exists(), "nothing was made");
    }
}
