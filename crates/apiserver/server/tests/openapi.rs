//! The OpenAPI documents from the kinds' real schemas, as kubectl reads them: explain,
//! strict validation, client-side dry runs, and the v2 document.

#[path = "support/kubectl.rs"]
mod kubectl;
#[path = "support/server.rs"]
mod support;

use kubectl::Kubectl;
use support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_explain_reads_built_in_schemas() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let out = k.run(&["explain", "pods"]).await;
    assert!(out.contains("KIND:") && out.contains("Pod"), "{out}");
    assert!(out.contains("Pod is a collection of containers"), "{out}");
    assert!(out.contains("spec\t<PodSpec>"), "{out}");

    let out = k.run(&["explain", "pod.spec.containers.ports"]).await;
    assert!(
        out.contains("containerPort") && out.contains("<integer>"),
        "{out}"
    );
    assert!(
        out.contains("ContainerPort represents a network port"),
        "{out}"
    );

    let out = k.run(&["explain", "deployment", "--recursive"]).await;
    assert!(out.contains("apps"), "{out}");
    for field in [
        "replicas",
        "strategy",
        "rollingUpdate",
        "maxSurge",
        "containers",
        "readinessProbe",
    ] {
        assert!(out.contains(field), "{field} missing from:\n{out}");
    }
}

const STRICT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: typo
data: {a: b}
dta: {c: d}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_validation_and_client_side_dry_runs() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let path = k.write("typo.yaml", STRICT);
    let (ok, _, err) = k
        .try_run(&["apply", "--validate=strict", "-f", &path])
        .await;
    assert!(!ok);
    assert!(
        err.contains("strict decoding error: unknown field \"dta\""),
        "{err}"
    );

    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: agnhost\n";
    let path = k.write("pod.yaml", pod);
    let out = k
        .run(&["create", "--dry-run=client", "--validate=true", "-f", &path])
        .await;
    assert!(out.contains("pod/p created (dry run)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_v2_document_carries_every_kind_and_the_v3_hash_follows_crds() {
    let server = TestServer::start().await;
    let k = Kubectl::new(&server.url());
    let v2 = k.run(&["get", "--raw", "/openapi/v2"]).await;
    let v2: serde_json::Value = serde_json::from_str(&v2).unwrap();
    assert_eq!(v2["swagger"], "2.0");
    let deployment = &v2["definitions"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    let containers = &v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");

    let before = v3_url(&k, "api/v1").await;
    let crd = k.write(
        "crd.yaml",
        include_str!("../../../../examples/manifests/crontab-crd.yaml"),
    );
    k.run(&["apply", "-f", &crd]).await;
    let after = v3_url(&k, "api/v1").await;
    assert_ne!(before, after, "the hash follows the served kinds");
    let doc = k
        .run(&["get", "--raw", "/openapi/v3/apis/stable.example.com/v1"])
        .await;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let crontab = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert_eq!(
        crontab["properties"]["spec"]["required"],
        serde_json::json!(["cronSpec"])
    );
}

/// The serverRelativeURL (with its hash) of one group-version in the v3 index.
async fn v3_url(k: &Kubectl, gv: &str) -> String {
    let root = k.run(&["get", "--raw", "/openapi/v3"]).await;
    let root: serde_json::Value = serde_json::from_str(&root).unwrap();
    root["paths"][gv]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string()
}
