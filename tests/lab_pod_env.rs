//! What a container sees on a lab, checked from inside the pod (`podnet lab exec`): the
//! Service environment variables, env and envFrom from ConfigMaps, Secrets and the downward
//! API, volumes (configMap, secret, downwardAPI, emptyDir in memory, the ServiceAccount's
//! kube-api-access projection) at their mountPaths, updated when their objects change; a
//! missing ConfigMap key as CreateContainerConfigError; the in-cluster kube-rs client
//! refused (403) and then allowed by a RoleBinding; hostNetwork pods and hostPort conflicts.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, PODNET, eventually, manifest};

const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn phase(lab: &Lab, pod: &str) -> String {
    lab.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
}

fn wait_running(lab: &Lab, pod: &str) {
    eventually(120, &format!("{pod} Running"), || {
        (phase(lab, pod) == "Running").then_some(())
    });
}

/// `cat PATH` inside the pod.
fn cat(lab: &Lab, pod: &str, path: &str) -> String {
    lab.exec(pod, &["cat", path])
}

#[test]
fn containers_see_service_env_config_secrets_downward_api_and_volumes() {
    let lab = Lab::up("podenv", &[]);
    let tmp = tempfile::tempdir().unwrap();
    // Mount points the lab creates are directories on the machine's filesystem (there is no
    // image root): keep the test's under its temp dir.
    let base = tmp.path().display().to_string();
    let objects = manifest(
        tmp.path(),
        "objects.yaml",
        r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {MODE: fast, app.conf: "color=blue\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: s3cr3t}
---
apiVersion: v1
kind: Service
metadata: {name: my-db}
spec:
  selector: {app: nothing}
  ports: [{name: pg, port: 5432}]
"#,
    );
    lab.kubectl_ok(&["apply", "-f", objects.to_str().unwrap()]);
    let pod = manifest(
        tmp.path(),
        "pod.yaml",
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: envpod, labels: {{app: envtest}}}}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "env > {base}/cache/env.txt; exec sleep 3600"]
    env:
    - {{name: PW, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    - {{name: MY_IP, valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}}}
    - {{name: APP, valueFrom: {{fieldRef: {{fieldPath: "metadata.labels['app']"}}}}}}
    - {{name: DB_URL, value: "pg://$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT_PG)"}}
    envFrom:
    - {{configMapRef: {{name: settings}}, prefix: CFG_}}
    volumeMounts:
    - {{name: config, mountPath: {base}/config}}
    - {{name: secret, mountPath: {base}/secret}}
    - {{name: info, mountPath: {base}/info}}
    - {{name: cache, mountPath: {base}/cache}}
  volumes:
  - {{name: config, configMap: {{name: settings}}}}
  - {{name: secret, secret: {{secretName: creds, defaultMode: 0400}}}}
  - name: info
    downwardAPI:
      items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]
  - {{name: cache, emptyDir: {{medium: Memory}}}}
"#
        ),
    );
    lab.kubectl_ok(&["apply", "-f", pod.to_str().unwrap()]);
    wait_running(&lab, "envpod");

    let env = eventually(30, "the env file", || {
        let out = lab.podnet(&[
            "exec",
            "envpod",
            "--",
            "cat",
            &format!("{base}/cache/env.txt"),
        ]);
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap())
    });
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} not in the environment:\n{env}"))
            .to_owned()
    };
    let db_ip = lab.kubectl_ok(&["get", "svc", "my-db", "-o", "jsonpath={.spec.clusterIP}"]);
    let pod_ip = lab.kubectl_ok(&["get", "pod", "envpod", "-o", "jsonpath={.status.podIP}"]);
    assert_eq!(var("MY_DB_SERVICE_HOST"), db_ip);
    assert_eq!(var("MY_DB_SERVICE_PORT"), "5432");
    assert_eq!(var("MY_DB_PORT"), format!("tcp://{db_ip}:5432"));
    assert_eq!(var("MY_DB_PORT_5432_TCP_ADDR"), db_ip);
    assert_eq!(var("DB_URL"), format!("pg://{db_ip}:5432"));
    assert_eq!(var("KUBERNETES_SERVICE_HOST"), "10.96.0.1");
    assert_eq!(var("KUBERNETES_SERVICE_PORT_HTTPS"), "443");
    assert_eq!(var("PW"), "s3cr3t");
    assert_eq!(var("MY_IP"), pod_ip);
    assert_eq!(var("APP"), "envtest");
    assert_eq!(var("CFG_MODE"), "fast");

    assert_eq!(
        cat(&lab, "envpod", &format!("{base}/config/app.conf")),
        "color=blue\n"
    );
    assert_eq!(
        cat(&lab, "envpod", &format!("{base}/secret/password")),
        "s3cr3t"
    );
    assert_eq!(
        cat(&lab, "envpod", &format!("{base}/info/labels")),
        "app=\"envtest\""
    );
    let mode = lab.exec(
        "envpod",
        &["stat", "-L", "-c", "%a", &format!("{base}/secret/password")],
    );
    assert_eq!(mode.trim(), "400");
    let write = lab.podnet(&[
        "exec",
        "envpod",
        "--",
        "touch",
        &format!("{base}/config/new"),
    ]);
    assert!(!write.status.success(), "configMap volumes are read-only");
    // The mounts live in the pod's mount namespace only.
    assert!(!tmp.path().join("config/app.conf").exists());
    assert!(!tmp.path().join("cache/env.txt").exists());

    // The ServiceAccount admission's kube-api-access volume.
    assert_eq!(
        cat(&lab, "envpod", &format!("{TOKEN_DIR}/namespace")),
        "default"
    );
    let ca = cat(&lab, "envpod", &format!("{TOKEN_DIR}/ca.crt"));
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    let token = cat(&lab, "envpod", &format!("{TOKEN_DIR}/token"));
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let spec = lab.kubectl_ok(&[
        "get",
        "pod",
        "envpod",
        "-o",
        "jsonpath={.spec.serviceAccountName} {.spec.volumes[*].name}",
    ]);
    assert!(spec.starts_with("default "), "{spec}");
    assert!(spec.contains("kube-api-access-"), "{spec}");

    // Updates reach the running pod.
    lab.kubectl_ok(&[
        "patch",
        "configmap",
        "settings",
        "-p",
        r#"{"data":{"app.conf":"color=red\n"}}"#,
    ]);
    lab.kubectl_ok(&["label", "pod", "envpod", "tier=db"]);
    eventually(60, "the configMap volume updated", || {
        (cat(&lab, "envpod", &format!("{base}/config/app.conf")) == "color=red\n").then_some(())
    });
    eventually(60, "the labels file updated", || {
        (cat(&lab, "envpod", &format!("{base}/info/labels")) == "app=\"envtest\"\ntier=\"db\"")
            .then_some(())
    });

    // A missing key: the container waits with upstream's reason and message.
    let broken = manifest(
        tmp.path(),
        "broken.yaml",
        r#"
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
    env: [{name: X, valueFrom: {configMapKeyRef: {name: settings, key: nope}}}]
"#,
    );
    lab.kubectl_ok(&["apply", "-f", broken.to_str().unwrap()]);
    let waiting = eventually(60, "broken waiting", || {
        let out = lab.kubectl_ok(&[
            "get",
            "pod",
            "broken",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}",
        ]);
        out.starts_with("CreateContainerConfigError").then_some(out)
    });
    assert_eq!(
        waiting,
        "CreateContainerConfigError: couldn't find key nope in ConfigMap default/settings"
    );
}

#[test]
fn in_cluster_client_is_refused_then_allowed_by_a_role_binding() {
    let lab = Lab::up("incluster", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let client_pod = |name: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  serviceAccountName: lister
  restartPolicy: Never
  containers:
  - name: client
    image: busybox
    command: ["{PODNET}", "workload", "list-services"]
"#
        )
    };
    let first = manifest(
        tmp.path(),
        "first.yaml",
        &format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: lister}}\n---{}",
            client_pod("client-1")
        ),
    );
    lab.kubectl_ok(&["apply", "-f", first.to_str().unwrap()]);
    let done = |pod: &str| {
        eventually(120, &format!("{pod} finished"), || {
            let p = phase(&lab, pod);
            (p == "Succeeded" || p == "Failed").then_some(p)
        })
    };
    assert_eq!(done("client-1"), "Failed");
    let refused = lab.ok(&["logs", "client-1"]);
    assert!(
        refused.contains("Error from server (Forbidden)")
            && refused.contains(
                "User \"system:serviceaccount:default:lister\" cannot list resource \"services\""
            ),
        "{refused}"
    );

    let rbac = manifest(
        tmp.path(),
        "rbac.yaml",
        &format!(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: service-reader}}
rules:
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: lister-reads-services}}
subjects:
- kind: ServiceAccount
  name: lister
  namespace: default
roleRef:
  kind: Role
  name: service-reader
  apiGroup: rbac.authorization.k8s.io
---{}"#,
            client_pod("client-2")
        ),
    );
    lab.kubectl_ok(&["apply", "-f", rbac.to_str().unwrap()]);
    assert_eq!(done("client-2"), "Succeeded");
    let listed = lab.ok(&["logs", "client-2"]);
    assert!(
        listed.lines().any(|l| l == "service/kubernetes"),
        "{listed}"
    );

    // A pod naming a ServiceAccount that does not exist is refused at admission.
    let orphan = manifest(
        tmp.path(),
        "orphan.yaml",
        &client_pod("orphan").replace("lister", "missing"),
    );
    let out = lab.kubectl(&["apply", "-f", orphan.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "pods \"orphan\" is forbidden: error looking up service account default/missing: serviceaccount \"missing\" not found"
        ),
        "{stderr}"
    );
}

#[test]
fn host_network_pods_use_the_node_ip_and_host_ports_conflict_at_scheduling() {
    let lab = Lab::up("hostnet", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let node = format!("{}-worker", lab.name);
    let pod = |name: &str| {
        format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  hostNetwork: true
  nodeSelector: {{kubernetes.io/hostname: {node}}}
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080", "--udp-port=-1"]
    ports: [{{containerPort: 8080, hostPort: 8080}}]
"#
        )
    };
    let first = manifest(tmp.path(), "hn-1.yaml", &pod("hn-1"));
    lab.kubectl_ok(&["apply", "-f", first.to_str().unwrap()]);
    wait_running(&lab, "hn-1");
    let ips = lab.kubectl_ok(&[
        "get",
        "pod",
        "hn-1",
        "-o",
        "jsonpath={.status.podIP} {.status.hostIP}",
    ]);
    let (pod_ip, host_ip) = ips.split_once(' ').unwrap();
    assert_eq!(pod_ip, host_ip, "a hostNetwork pod has its node's IP");
    let addrs = lab.exec("hn-1", &["ip", "-o", "-4", "addr", "show"]);
    assert!(
        addrs.contains(&format!("inet {host_ip}/")),
        "the node's namespace:\n{addrs}"
    );

    let second = manifest(tmp.path(), "hn-2.yaml", &pod("hn-2"));
    lab.kubectl_ok(&["apply", "-f", second.to_str().unwrap()]);
    let why = eventually(60, "hn-2 unschedulable", || {
        let out = lab.kubectl_ok(&[
            "get",
            "pod",
            "hn-2",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].message}",
        ]);
        out.contains("free ports").then_some(out)
    });
    assert!(
        why.contains("1 node(s) didn't have free ports for the requested pod ports"),
        "{why}"
    );
    assert_eq!(phase(&lab, "hn-2"), "Pending");
}
