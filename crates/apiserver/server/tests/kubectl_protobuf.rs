//! kubectl's typed clients (`kubectl create …`) send and read Kubernetes protobuf; the server
//! must take their bodies and answer in kind. kubectl's -v=8 log shows each request's and
//! reply's Content-Type, which proves both really were protobuf. (kubectl 1.37's `expose` and
//! `run` send unstructured JSON and `scale` a merge patch: checked only for working alongside.)

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use kubectl::Kubectl;
use serde_json::Value;
use support::TestServer;

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The Content-Type of each request and response in a -v=8 log, after the line that opens it
/// (`"Request" verb="POST" url=…` or `"Response" status="201 Created"…`).
fn content_types(log: &str) -> Vec<(String, String)> {
    let mut opened = String::new();
    let mut out = Vec::new();
    for line in log.lines() {
        if let Some(i) = line
            .find("\"Request\" verb=")
            .or_else(|| line.find("\"Response\" status="))
        {
            opened = line[i..].to_string();
        } else if let Some(ct) = line.trim().strip_prefix("Content-Type: ") {
            out.push((opened.clone(), ct.to_string()));
        }
    }
    out
}

/// Runs a kubectl command at -v=8; its stdout and log.
async fn run_logged(k: &Kubectl, args: &[&str]) -> (String, String) {
    let args: Vec<&str> = args.iter().copied().chain(["-v=8"]).collect();
    let (ok, out, err) = k.try_run(&args).await;
    assert!(ok, "kubectl {args:?} failed:\n{err}\n{out}");
    (out, err)
}

/// Runs a create-style kubectl command and returns its stdout, asserting its POST body and the
/// 201 reply were both protobuf.
async fn run_sending_protobuf(k: &Kubectl, args: &[&str]) -> String {
    let (out, log) = run_logged(k, args).await;
    let types = content_types(&log);
    let sent = |opened: &str| {
        types
            .iter()
            .any(|(o, ct)| o.starts_with(opened) && ct == PROTOBUF)
    };
    assert!(
        sent("\"Request\" verb=\"POST\""),
        "kubectl {args:?} sent no protobuf body: {types:?}"
    );
    assert!(
        sent("\"Response\" status=\"201 Created\""),
        "kubectl {args:?} got no protobuf reply: {types:?}"
    );
    out
}

async fn get_json(k: &Kubectl, args: &[&str]) -> Value {
    let args: Vec<&str> = ["get"]
        .iter()
        .copied()
        .chain(args.iter().copied())
        .chain(["-o", "json"])
        .collect();
    serde_json::from_str(&k.run(&args).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_typed_clients_speak_protobuf() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());

    let out = run_sending_protobuf(
        &k,
        &["create", "deployment", "web", "--image=nginx", "--port=80"],
    )
    .await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    let out = run_sending_protobuf(
        &k,
        &["create", "service", "clusterip", "s", "--tcp=80:8080"],
    )
    .await;
    assert!(out.contains("service/s created"), "{out}");
    let out = run_sending_protobuf(&k, &["create", "configmap", "c", "--from-literal=a=b"]).await;
    assert!(out.contains("configmap/c created"), "{out}");
    let out = run_sending_protobuf(&k, &["create", "namespace", "n"]).await;
    assert!(out.contains("namespace/n created"), "{out}");
    let out =
        run_sending_protobuf(&k, &["create", "ingress", "i", "--rule=foo.com/bar=svc:80"]).await;
    assert!(out.contains("ingress.networking.k8s.io/i created"), "{out}");
    // kubectl 1.37 sends these three as JSON (unstructured objects, a merge patch).
    let (out, _) = run_logged(&k, &["expose", "deployment", "web", "--port=80"]).await;
    assert!(out.contains("service/web exposed"), "{out}");
    let (out, _) = run_logged(&k, &["run", "p", "--image=nginx"]).await;
    assert!(out.contains("pod/p created"), "{out}");
    let (out, _) = run_logged(&k, &["scale", "deployment", "web", "--replicas=2"]).await;
    assert!(out.contains("deployment.apps/web scaled"), "{out}");

    // What they created, read back as JSON: the protobuf bodies carried every field.
    let web = get_json(&k, &["deployment", "web"]).await;
    assert_eq!(web["spec"]["replicas"], 2);
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(web["spec"]["selector"]["matchLabels"]["app"], "web");
    let s = get_json(&k, &["service", "s"]).await;
    assert_eq!(s["spec"]["ports"][0]["port"], 80);
    assert_eq!(s["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(s["spec"]["selector"]["app"], "s");
    let exposed = get_json(&k, &["service", "web"]).await;
    assert_eq!(exposed["spec"]["selector"]["app"], "web");
    assert_eq!(exposed["spec"]["ports"][0]["targetPort"], 80);
    let c = get_json(&k, &["configmap", "c"]).await;
    assert_eq!(c["data"]["a"], "b");
    let n = get_json(&k, &["namespace", "n"]).await;
    assert_eq!(n["status"]["phase"], "Active");
    let i = get_json(&k, &["ingress", "i"]).await;
    let rule = &i["spec"]["rules"][0];
    assert_eq!(rule["host"], "foo.com");
    assert_eq!(rule["http"]["paths"][0]["path"], "/bar");
    assert_eq!(rule["http"]["paths"][0]["pathType"], "Exact");
    assert_eq!(
        rule["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        80
    );
    let p = get_json(&k, &["pod", "p"]).await;
    assert_eq!(p["spec"]["containers"][0]["image"], "nginx");
    assert_eq!(p["metadata"]["labels"]["run"], "p");
}
