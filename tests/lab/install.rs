//! Least-privilege checks of the deploy/ roles: a manifest's roles as data, the variants
//! with one verb removed, and a component run on a lab node as a ServiceAccount bound to
//! a variant (its token in a kubeconfig for the lab's in-lab address).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use super::support::{Lab, PODNET, eventually, show};

/// A ClusterRole, or a Role in `namespace`, reduced to its rules.
#[derive(Clone, Debug)]
pub struct Role {
    pub namespace: Option<String>,
    pub rules: Vec<Value>,
}

/// The roles with one verb on one resource taken away.
#[derive(Debug)]
pub struct Variant {
    pub roles: Vec<Role>,
    pub verb: String,
    pub resource: String,
}

#[derive(Clone, Copy, Debug)]
pub enum Component {
    Agent,
    Dns,
}

/// A component started on a node with a variant's rights; stopped on drop.
pub struct Probe {
    child: Child,
    pid: i32,
    log: PathBuf,
    node: String,
    component: Component,
}

/// The objects of a manifest file, through kubectl's own reading of it (documents,
/// lists).
fn objects(lab: &Lab, path: &str) -> Vec<Value> {
    let out = lab.kubectl(&["create", "--dry-run=client", "-o", "json", "-f", path]);
    assert!(out.status.success(), "reading {path}: {}", show(&out));
    // One JSON document per object, one after the other.
    serde_json::Deserializer::from_slice(&out.stdout)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

/// Every role the manifest at `path` binds to the ServiceAccount `account`.
pub fn roles_of(lab: &Lab, path: &str, account: &str) -> Vec<Role> {
    let objects = objects(lab, path);
    let mut roles = Vec::new();
    for binding in objects.iter().filter(|o| {
        matches!(
            o["kind"].as_str(),
            Some("ClusterRoleBinding" | "RoleBinding")
        )
    }) {
        let subjects = binding["subjects"].as_array().cloned().unwrap_or_default();
        if !subjects
            .iter()
            .any(|s| s["kind"] == "ServiceAccount" && s["name"] == account)
        {
            continue;
        }
        let role_kind = &binding["roleRef"]["kind"];
        let role = objects
            .iter()
            .find(|o| {
                &o["kind"] == role_kind && o["metadata"]["name"] == binding["roleRef"]["name"]
            })
            .unwrap_or_else(|| panic!("{path}: the role of {}", binding["metadata"]["name"]));
        roles.push(Role {
            namespace: role["metadata"]["namespace"].as_str().map(str::to_owned),
            rules: role["rules"].as_array().unwrap().clone(),
        });
    }
    assert!(!roles.is_empty(), "{path} binds no role to {account}");
    roles
}

/// One variant per (role, rule, resource, verb): that verb gone for that resource only.
pub fn variants(roles: &[Role]) -> Vec<Variant> {
    let mut out = Vec::new();
    for (r, role) in roles.iter().enumerate() {
        for (i, rule) in role.rules.iter().enumerate() {
            let strings = |key: &str| -> Vec<String> {
                rule[key]
                    .as_array()
                    .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default()
            };
            let (resources, verbs) = (strings("resources"), strings("verbs"));
            for resource in &resources {
                for verb in &verbs {
                    let mut rules = role.rules.clone();
                    let mut others = rule.clone();
                    others["resources"] = json!(
                        resources
                            .iter()
                            .filter(|x| *x != resource)
                            .collect::<Vec<_>>()
                    );
                    let mut reduced = rule.clone();
                    reduced["resources"] = json!([resource]);
                    reduced["verbs"] =
                        json!(verbs.iter().filter(|x| *x != verb).collect::<Vec<_>>());
                    rules.remove(i);
                    if resources.len() > 1 {
                        rules.push(others);
                    }
                    if verbs.len() > 1 {
                        rules.push(reduced);
                    }
                    let mut roles = roles.to_vec();
                    roles[r].rules = rules;
                    out.push(Variant {
                        roles,
                        verb: verb.clone(),
                        resource: resource.clone(),
                    });
                }
            }
        }
    }
    out
}

// === impl Probe ===

impl Probe {
    /// Grants `roles` to a new ServiceAccount `rbac-COMPONENT-TAG` and starts the component
    /// as it on `node`.
    pub fn start(lab: &Lab, component: Component, node: &str, tag: &str, roles: &[Role]) -> Self {
        let name = format!("rbac-{}-{tag}", component.name());
        let kubeconfig = grant(lab, &name, roles);
        let log = lab.root.path().join(format!("{name}.log"));
        let pidfile = lab.root.path().join(format!("{name}.pid"));
        let mut argv: Vec<String> = match component {
            Component::Agent => vec!["agent".into(), "--node".into(), node.into()],
            Component::Dns => vec!["dns".into()],
        };
        argv.extend([
            "--kubeconfig".into(),
            kubeconfig.to_string_lossy().into_owned(),
        ]);
        let child = Command::new(PODNET)
            .arg("lab")
            .args(["--name", &lab.name, "--state-dir"])
            .arg(lab.root.path())
            .args([
                "node-exec",
                node,
                "--",
                "sh",
                "-c",
                "echo $$ > \"$0\"; exec \"$@\"",
            ])
            .arg(&pidfile)
            .arg(PODNET)
            .args(&argv)
            // Lease writes and watch errors the component retries are logged at debug.
            .env(
                "RUST_LOG",
                "info,podnet_k8s_lease=debug,podnet_agent_announce=debug",
            )
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let pid = loop {
            let pid = std::fs::read_to_string(&pidfile).ok();
            if let Some(pid) = pid.and_then(|p| p.trim().parse::<i32>().ok()) {
                break pid;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        Probe {
            child,
            pid,
            log,
            node: node.to_owned(),
            component,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The component did its job with these rights: the DNS is ready (its lists done and
    /// its Corefile read), the agent's proxy is in sync and it holds the Local Service's
    /// Lease; and nothing was denied on the way.
    pub fn wait_working(&self, lab: &Lab) {
        let node_ok = |cmd: &[&str]| {
            lab.podnet(&[&["node-exec", &self.node, "--"], cmd].concat())
                .status
                .success()
        };
        match self.component {
            Component::Dns => eventually(60, "the probe DNS ready", || {
                node_ok(&[
                    "curl",
                    "-sf",
                    "-o",
                    "/dev/null",
                    "http://127.0.0.1:8181/ready",
                ])
                .then_some(())
            }),
            Component::Agent => {
                eventually(60, "the probe agent's /healthz", || {
                    node_ok(&[
                        "curl",
                        "-sf",
                        "-o",
                        "/dev/null",
                        "http://127.0.0.1:10256/healthz",
                    ])
                    .then_some(())
                });
                eventually(
                    60,
                    "the probe agent holding the Local Service's Lease",
                    || self.log().contains("lease acquired").then_some(()),
                );
            }
        }
        let log = self.log();
        assert!(
            !log.contains("forbidden"),
            "denied with the full role:\n{log}"
        );
    }

    /// The component ran into the API server's refusal of `verb` on `resource`.
    pub fn wait_denied(&self, verb: &str, resource: &str) {
        let wanted = format!("cannot {verb} resource \\\"{resource}\\\"");
        let plain = format!("cannot {verb} resource \"{resource}\"");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let log = self.log();
            if log.contains(&wanted) || log.contains(&plain) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{:?} without {verb} on {resource} did not fail visibly:\n{log}",
                self.component
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// SIGTERM, then waits for the node-exec that ran it.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            if std::time::Instant::now() > deadline {
                let _ = Command::new("kill")
                    .args(["-9", &self.pid.to_string()])
                    .status();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-9", &self.pid.to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Agent => "agent",
            Component::Dns => "dns",
        }
    }
}

/// A ServiceAccount `name` in kube-system bound to `roles` (ClusterRoles and Roles named
/// `name-N`), and a kubeconfig with its token for the lab's in-lab address.
fn grant(lab: &Lab, name: &str, roles: &[Role]) -> PathBuf {
    let account = json!({"kind": "ServiceAccount", "name": name, "namespace": "kube-system"});
    let mut items = vec![json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": "kube-system"}})];
    for (n, role) in roles.iter().enumerate() {
        let role_name = format!("{name}-{n}");
        let (kind, binding_kind) = match role.namespace {
            Some(_) => ("Role", "RoleBinding"),
            None => ("ClusterRole", "ClusterRoleBinding"),
        };
        let mut meta = json!({"name": role_name});
        if let Some(ns) = &role.namespace {
            meta["namespace"] = json!(ns);
        }
        items.push(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": meta, "rules": role.rules}),
        );
        items.push(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": binding_kind,
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
            "subjects": [account]}),
        );
    }
    // JSON documents in a YAML stream, as kubectl reads manifests.
    let stream: Vec<String> = items.iter().map(Value::to_string).collect();
    let file = lab.root.path().join(format!("{name}.rbac.yaml"));
    std::fs::write(&file, stream.join("\n---\n")).unwrap();
    lab.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    let token = lab.kubectl_ok(&[
        "create",
        "token",
        name,
        "-n",
        "kube-system",
        "--duration=1h",
    ]);
    kubeconfig(lab, name, token.trim())
}

fn kubeconfig(lab: &Lab, name: &str, token: &str) -> PathBuf {
    let in_lab = lab.dir().join("kubeconfig.in-lab");
    let out = lab.kubectl_ok(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "json",
        "--kubeconfig",
        in_lab.to_str().unwrap(),
    ]);
    let mut config: Value = serde_json::from_str(&out).unwrap();
    let user = config["contexts"][0]["context"]["user"].clone();
    config["users"] = json!([{"name": user, "user": {"token": token}}]);
    let path = lab.root.path().join(format!("{name}.kubeconfig"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}
