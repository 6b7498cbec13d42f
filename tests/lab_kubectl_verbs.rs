//! kubectl's everyday verbs against a lab, with kubectl 1.37's default flags — the typed
//! `create`/`expose`/`run`/`scale` commands (protobuf bodies), rollouts, waits, events,
//! explain, auth, watch, diff and server-side apply — as a user coming from kind types them.

#[path = "lab/support.rs"]
mod support;

use std::process::{Child, Command, Stdio};

use support::{Lab, eventually, kubectl, manifest, show};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn deployments_roll_out_scale_change_image_and_roll_back() {
    let lab = Lab::up("verbs-rollout", &[]);
    let k = |args: &[&str]| lab.kubectl_ok(args);

    let out = k(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--port=80",
        "--replicas=2",
    ]);
    assert_eq!(out.trim(), "deployment.apps/web created");
    let out = k(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    assert!(out.contains("successfully rolled out"), "{out}");
    // Deployment → ReplicaSet → Pods, with the template hash in names and labels.
    let rs = k(&["get", "rs", "-l", "app=web", "-o", "name"]);
    assert_eq!(rs.lines().count(), 1, "{rs}");
    let hash = k(&[
        "get",
        "rs",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[0].metadata.labels.pod-template-hash}",
    ]);
    let pods = k(&[
        "get",
        "pods",
        "-l",
        &format!("pod-template-hash={hash}"),
        "-o",
        "name",
    ]);
    assert_eq!(pods.lines().count(), 2, "{pods}");

    let out = k(&[
        "expose",
        "deployment",
        "web",
        "--port=80",
        "--target-port=80",
    ]);
    assert_eq!(out.trim(), "service/web exposed");
    let out = k(&["scale", "deployment", "web", "--replicas=3"]);
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    eventually(90, "3 ready replicas", || {
        let ready = k(&[
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]);
        (ready == "3").then_some(())
    });
    eventually(60, "3 endpoints", || {
        let eps = k(&[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
            "-o",
            "jsonpath={.items[*].endpoints[*].addresses[0]}",
        ]);
        (eps.split_whitespace().count() == 3).then_some(())
    });

    let out = k(&["set", "image", "deployment/web", "nginx=nginx:1.28"]);
    assert!(out.contains("deployment.apps/web image updated"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    let history = k(&["rollout", "history", "deployment/web"]);
    assert!(history.contains("REVISION"), "{history}");
    assert_eq!(
        history
            .lines()
            .filter(|l| l.starts_with(['1', '2']))
            .count(),
        2,
        "{history}"
    );
    let out = k(&["rollout", "undo", "deployment/web"]);
    assert!(out.contains("rolled back"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    let image = k(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.27");

    let out = k(&["rollout", "restart", "deployment/web"]);
    assert!(out.contains("restarted"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    let out = k(&["rollout", "pause", "deployment/web"]);
    assert!(out.contains("paused"), "{out}");
    k(&["set", "image", "deployment/web", "nginx=nginx:1.29"]);
    let updated = k(&[
        "get",
        "rs",
        "-l",
        "app=web",
        "-o",
        "jsonpath={.items[*].spec.template.spec.containers[0].image}",
    ]);
    assert!(
        !updated.contains("1.29"),
        "a paused deployment made a ReplicaSet: {updated}"
    );
    let out = k(&["rollout", "resume", "deployment/web"]);
    assert!(out.contains("resumed"), "{out}");
    k(&["rollout", "status", "deployment/web", "--timeout=120s"]);

    let out = k(&["label", "deployment", "web", "tier=frontend"]);
    assert_eq!(out.trim(), "deployment.apps/web labeled");
    let out = k(&["annotate", "deployment", "web", "owner=lab"]);
    assert_eq!(out.trim(), "deployment.apps/web annotated");
    let events = k(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=Deployment",
    ]);
    assert!(events.contains("ScalingReplicaSet"), "{events}");
}

#[test]
fn create_makes_every_everyday_kind() {
    let lab = Lab::up("verbs-create", &[]);
    let k = |args: &[&str]| lab.kubectl_ok(args);
    let tmp = tempfile::tempdir().unwrap();

    let created = [
        (
            vec!["create", "namespace", "shop"],
            "namespace/shop created",
        ),
        (
            vec![
                "create",
                "configmap",
                "settings",
                "-n",
                "shop",
                "--from-literal=mode=fast",
            ],
            "configmap/settings created",
        ),
        (
            vec![
                "create",
                "secret",
                "generic",
                "creds",
                "-n",
                "shop",
                "--from-literal=password=s3cret",
            ],
            "secret/creds created",
        ),
        (
            vec!["create", "serviceaccount", "robot", "-n", "shop"],
            "serviceaccount/robot created",
        ),
        (
            vec![
                "create",
                "service",
                "clusterip",
                "api",
                "-n",
                "shop",
                "--tcp=80:8080",
            ],
            "service/api created",
        ),
        (
            vec![
                "create",
                "ingress",
                "front",
                "-n",
                "shop",
                "--rule=shop.example/=api:80",
            ],
            "ingress.networking.k8s.io/front created",
        ),
        (
            vec![
                "create",
                "role",
                "reader",
                "-n",
                "shop",
                "--verb=get,list",
                "--resource=pods",
            ],
            "role.rbac.authorization.k8s.io/reader created",
        ),
        (
            vec![
                "create",
                "rolebinding",
                "robot-reads",
                "-n",
                "shop",
                "--role=reader",
                "--serviceaccount=shop:robot",
            ],
            "rolebinding.rbac.authorization.k8s.io/robot-reads created",
        ),
        (
            vec![
                "create",
                "clusterrole",
                "node-reader",
                "--verb=get,list",
                "--resource=nodes",
            ],
            "clusterrole.rbac.authorization.k8s.io/node-reader created",
        ),
        (
            vec![
                "create",
                "job",
                "hello",
                "-n",
                "shop",
                "--image=busybox",
                "--",
                "echo",
                "hello",
            ],
            "job.batch/hello created",
        ),
        (
            vec![
                "create",
                "cronjob",
                "tick",
                "-n",
                "shop",
                "--image=busybox",
                "--schedule=*/1 * * * *",
                "--",
                "date",
            ],
            "cronjob.batch/tick created",
        ),
        (
            vec![
                "create",
                "job",
                "tick-now",
                "-n",
                "shop",
                "--from=cronjob/tick",
            ],
            "job.batch/tick-now created",
        ),
    ];
    for (args, expected) in created {
        let out = k(&args);
        assert_eq!(out.trim(), expected, "kubectl {args:?}");
    }

    // A TLS secret from a real key pair.
    let (crt, key) = (tmp.path().join("tls.crt"), tmp.path().join("tls.key"));
    let keygen = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=shop.example",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", show(&keygen));
    let out = k(&[
        "create",
        "secret",
        "tls",
        "shop-tls",
        "-n",
        "shop",
        &format!("--cert={}", crt.display()),
        &format!("--key={}", key.display()),
    ]);
    assert_eq!(out.trim(), "secret/shop-tls created");
    let kind = k(&[
        "get",
        "secret",
        "shop-tls",
        "-n",
        "shop",
        "-o",
        "jsonpath={.type}",
    ]);
    assert_eq!(kind, "kubernetes.io/tls");

    // The namespace got its default ServiceAccount and the cluster's CA.
    eventually(30, "default ServiceAccount and kube-root-ca.crt", || {
        let sa = lab.kubectl(&["get", "serviceaccount", "default", "-n", "shop"]);
        let ca = lab.kubectl(&["get", "configmap", "kube-root-ca.crt", "-n", "shop"]);
        (sa.status.success() && ca.status.success()).then_some(())
    });
    let token = k(&["create", "token", "robot", "-n", "shop"]);
    assert_eq!(token.trim().split('.').count(), 3, "a JWT: {token}");

    let out = k(&[
        "run",
        "solo",
        "-n",
        "shop",
        "--image=nginx",
        "--port=80",
        "--restart=Never",
    ]);
    assert_eq!(out.trim(), "pod/solo created");
    let out = k(&[
        "wait",
        "-n",
        "shop",
        "--for=condition=Ready",
        "pod/solo",
        "--timeout=90s",
    ]);
    assert_eq!(out.trim(), "pod/solo condition met");
    let out = k(&[
        "wait",
        "-n",
        "shop",
        "--for=condition=complete",
        "job/hello",
        "--timeout=120s",
    ]);
    assert_eq!(out.trim(), "job.batch/hello condition met");
    let logs_free_check = k(&[
        "get",
        "job",
        "hello",
        "-n",
        "shop",
        "-o",
        "jsonpath={.status.succeeded}",
    ]);
    assert_eq!(logs_free_check, "1");
    // The Job made from the CronJob's template runs too (the schedule's own Jobs are
    // tests/lab_workloads.rs's to wait for).
    let out = k(&[
        "wait",
        "-n",
        "shop",
        "--for=condition=complete",
        "job/tick-now",
        "--timeout=120s",
    ]);
    assert_eq!(out.trim(), "job.batch/tick-now condition met");

    // Manifests in the wild: each applied unchanged.
    let web = manifest(tmp.path(), "web.yaml", support::WEB);
    let out = k(&["apply", "-f", web.to_str().unwrap()]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let listed = k(&["get", "all", "-n", "shop"]);
    for expected in [
        "pod/solo",
        "service/api",
        "job.batch/hello",
        "cronjob.batch/tick",
    ] {
        assert!(
            listed.contains(expected),
            "{expected} missing from get all:\n{listed}"
        );
    }
}

#[test]
fn events_explain_and_auth_answer_as_upstream() {
    let lab = Lab::up("verbs-inspect", &[]);
    let k = |args: &[&str]| lab.kubectl_ok(args);
    k(&["run", "probe", "--image=nginx", "--port=80"]);
    k(&[
        "wait",
        "--for=condition=Ready",
        "pod/probe",
        "--timeout=90s",
    ]);

    let events = eventually(30, "the pod's events", || {
        let out = k(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=probe",
        ]);
        ["Scheduled", "Pulled", "Created", "Started"]
            .iter()
            .all(|r| out.contains(r))
            .then_some(out)
    });
    let header: Vec<&str> = events.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );
    let describe = k(&["describe", "pod", "probe"]);
    assert!(
        describe.contains("Events:") && describe.contains("Scheduled"),
        "{describe}"
    );
    let newer = k(&["events", "--for", "pod/probe"]);
    assert!(newer.contains("Started"), "{newer}");

    let explain = k(&["explain", "deployment.spec.replicas"]);
    assert!(explain.contains("GROUP:      apps"), "{explain}");
    assert!(explain.contains("replicas"), "{explain}");
    let explain = k(&["explain", "pod.spec.containers.ports"]);
    assert!(explain.contains("containerPort"), "{explain}");

    assert_eq!(k(&["auth", "can-i", "create", "deployments"]).trim(), "yes");
    let sa = "system:serviceaccount:default:default";
    let out = lab.kubectl(&["auth", "can-i", "list", "services", &format!("--as={sa}")]);
    assert_eq!(stdout(&out).trim(), "no", "{}", show(&out));
    k(&[
        "create",
        "rolebinding",
        "default-view",
        "--clusterrole=view",
        "--serviceaccount=default:default",
    ]);
    let out = k(&["auth", "can-i", "list", "services", &format!("--as={sa}")]);
    assert_eq!(out.trim(), "yes");
}

/// `kubectl get -w` in the background: its output so far once stopped.
struct Watch(Child);

impl Watch {
    fn start(lab: &Lab, args: &[&str]) -> Watch {
        let child = Command::new(kubectl())
            .args(args)
            .env("KUBECONFIG", lab.kubeconfig())
            .env("HOME", lab.root.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Watch(child)
    }

    fn stop(mut self) -> String {
        let _ = self.0.kill();
        stdout(&self.0.wait_with_output().unwrap())
    }
}

#[test]
fn watch_diff_and_server_side_apply_behave_as_upstream() {
    let lab = Lab::up("verbs-apply", &[]);
    let k = |args: &[&str]| lab.kubectl_ok(args);
    let tmp = tempfile::tempdir().unwrap();

    let watch = Watch::start(&lab, &["get", "configmaps", "-w", "--output-watch-events"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let cm = manifest(
        tmp.path(),
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tuning\ndata:\n  level: \"1\"\n",
    );
    k(&["apply", "-f", cm.to_str().unwrap()]);
    k(&[
        "patch",
        "configmap",
        "tuning",
        "-p",
        r#"{"data":{"level":"2"}}"#,
    ]);
    eventually(30, "the patch to land", || {
        let out = k(&["get", "configmap", "tuning", "-o", "jsonpath={.data.level}"]);
        (out == "2").then_some(())
    });
    std::thread::sleep(std::time::Duration::from_secs(1));
    let printed = watch.stop();
    assert!(
        printed.contains("ADDED") && printed.contains("tuning"),
        "{printed}"
    );
    assert!(printed.contains("MODIFIED"), "{printed}");

    // diff: nothing to say for the live state, a unified diff (exit 1) for a change.
    let out = lab.kubectl(&["diff", "-f", cm.to_str().unwrap()]);
    assert!(
        !out.status.success() && stdout(&out).contains("level: \"2\""),
        "{}",
        show(&out)
    );
    k(&["apply", "-f", cm.to_str().unwrap()]);
    let out = lab.kubectl(&["diff", "-f", cm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", show(&out));

    // Server-side apply: a second manager changing an owned field conflicts until forced.
    let deploy = manifest(tmp.path(), "web.yaml", support::WEB);
    let path = deploy.to_str().unwrap();
    k(&[
        "apply",
        "--server-side",
        "--field-manager=team-a",
        "-f",
        path,
    ]);
    let scaled = support::WEB.replace("replicas: 2", "replicas: 4");
    let other = manifest(tmp.path(), "web4.yaml", &scaled);
    let out = lab.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "-f",
        other.to_str().unwrap(),
    ]);
    assert!(!out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict") && err.contains("team-a") && err.contains(".spec.replicas"),
        "{err}"
    );
    k(&[
        "apply",
        "--server-side",
        "--field-manager=team-b",
        "--force-conflicts",
        "-f",
        other.to_str().unwrap(),
    ]);
    let replicas = k(&[
        "get",
        "deployment",
        "web",
        "-o",
        "jsonpath={.spec.replicas}",
    ]);
    assert_eq!(replicas, "4");
}
