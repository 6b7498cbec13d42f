//! podnet's deploy/ manifests against the lab's API, on one lab: `kubectl apply
//! --dry-run=server -f deploy/` (client-side and server-side apply) and `podnet install
//! --dry-run` are accepted; and each component's role is exactly what it calls — the real
//! `podnet agent` and `podnet dns`, run on a lab node with a ServiceAccount token bound to
//! the manifest's rules, work with them, and with any one verb removed fail naming that
//! verb (the API server's `cannot VERB resource "RESOURCE"`).

mod lab {
    pub mod install;
    pub mod support;
}

use lab::install::{Component, Probe, roles_of, variants};
use lab::support::*;

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");

#[test]
fn deploy_manifests_apply_and_each_role_is_exactly_what_its_component_calls() {
    let lab = Lab::up("install", &[]);
    // The node the probes run on; the LoadBalancer Service's only endpoint runs there, so
    // that its agent is the one that must take the address's Lease.
    let node = format!("{}-worker", lab.name);

    // What an operator runs first: the API server validates every object, nothing changes.
    let out = lab.kubectl_ok(&["apply", "--dry-run=server", "-f", DEPLOY]);
    assert!(
        out.contains("daemonset.apps/podnet-agent created (server dry run)"),
        "{out}"
    );
    // The lab runs its DNS from the same file, so its objects are there already.
    assert!(
        out.contains("poddisruptionbudget.policy/coredns configured (server dry run)"),
        "{out}"
    );
    // The lab's DNS Deployment carries its kubeconfig argument, added by the lab as another
    // field manager: taking the objects over is what --force-conflicts says.
    let out = lab.kubectl_ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "-f",
        DEPLOY,
    ]);
    assert!(
        out.contains("daemonset.apps/podnet-agent serverside-applied (server dry run)"),
        "{out}"
    );
    let out = std::process::Command::new(PODNET)
        .args(["install", "--dry-run", "--kubeconfig"])
        .arg(lab.kubeconfig())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podnet install --dry-run:\n{}",
        show(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "configmap/podnet-config serverside-applied (server dry run)",
        "daemonset.apps/podnet-agent serverside-applied (server dry run)",
        "deployment.apps/coredns serverside-applied (server dry run)",
        "deployment.apps/podnet-gateway serverside-applied (server dry run)",
    ] {
        assert!(stdout.contains(line), "{line:?} missing:\n{stdout}");
    }
    let gone = lab.kubectl(&["get", "daemonset", "podnet-agent", "-n", "kube-system"]);
    assert!(!gone.status.success(), "a dry run created the DaemonSet");

    // The DNS: its ClusterRole and its Role on the coredns ConfigMap.
    let dns_roles = roles_of(&lab, &format!("{DEPLOY}/podnet-dns.yaml"), "coredns");
    check_roles(&lab, &node, Component::Dns, &dns_roles);

    // The agent: stopped on the node, so that the probe is that node's only agent; a
    // LoadBalancer Service with externalTrafficPolicy Local and its one endpoint on the node
    // makes it elect itself for the address (the Lease).
    lab.kubectl_ok(&["apply", "-f", &lab_local_service(&lab, &node)]);
    lab.ok(&["stop", &format!("{node}/agent")]);
    let agent_roles = roles_of(&lab, &format!("{DEPLOY}/podnet-agent.yaml"), "podnet-agent");
    check_roles(&lab, &node, Component::Agent, &agent_roles);
    lab.ok(&["start", &format!("{node}/agent")]);
}

/// The component works with the full roles, and fails naming the verb with each verb
/// removed.
fn check_roles(lab: &Lab, node: &str, component: Component, roles: &[lab::install::Role]) {
    let full = Probe::start(lab, component, node, "full", roles);
    full.wait_working(lab);
    full.stop();
    for (n, variant) in variants(roles).into_iter().enumerate() {
        if matches!(component, Component::Agent) {
            // Each probe must create its Lease, not take over the last one's.
            lab.kubectl_ok(&[
                "delete",
                "lease",
                "-n",
                "kube-system",
                "-l",
                "podnet.io/l2-announce",
            ]);
        }
        let probe = Probe::start(lab, component, node, &n.to_string(), &variant.roles);
        probe.wait_denied(&variant.verb, &variant.resource);
        probe.stop();
    }
}

/// A Service whose address only `node`'s agent may announce.
fn lab_local_service(lab: &Lab, node: &str) -> String {
    let text = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: rbac-probe-web
  labels: {{app: rbac-probe-web}}
spec:
  nodeName: {node}
  containers:
  - name: web
    image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: rbac-probe-web
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {{app: rbac-probe-web}}
  ports:
  - port: 80
"#
    );
    manifest(lab.root.path(), "local-service.yaml", &text)
        .to_string_lossy()
        .into_owned()
}
