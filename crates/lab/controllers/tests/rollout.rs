//! `kubectl rollout` and friends against the real API server and controllers: Deployments
//! rolled through ReplicaSets as on kind (the test kubelet stand-in makes bound pods Ready).

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use podnet_test_util::Kubectl;
use support::{Lab, eventually};

const WEB: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    kubernetes.io/change-cause: first release
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

/// The images of the ReplicaSets that have replicas, and how many ReplicaSets there are.
async fn replica_sets(lab: &Lab) -> (Vec<String>, usize) {
    let api: Api<ReplicaSet> = Api::namespaced(lab.client.clone(), "default");
    let list = api.list(&ListParams::default()).await.unwrap().items;
    let mut active: Vec<String> = list
        .iter()
        .filter(|rs| rs.spec.replicas.unwrap_or(0) > 0)
        .map(|rs| {
            let t = rs.spec.template.as_ref().unwrap();
            t.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap()
        })
        .collect();
    active.sort();
    (active, list.len())
}

async fn rolled_out(k: &Kubectl) {
    let out = k
        .run(&["rollout", "status", "deployment/web", "--timeout=60s"])
        .await;
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rolls_out_sets_images_undoes_pauses_resumes_restarts_and_scales() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write("web.yaml", WEB);
    k.run(&["apply", "-f", &manifest]).await;
    rolled_out(&k).await;
    let out = k.run(&["get", "rs"]).await;
    assert_eq!(header(&out), ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert!(row[0].starts_with("web-"), "{out}");
    assert_eq!(&row[1..4], ["3", "3", "3"], "{out}");
    let out = k.run(&["get", "deploy", "web"]).await;
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert!(out.contains("3/3"), "{out}");

    // A new image: a second ReplicaSet, the first scaled to zero.
    k.run(&["set", "image", "deployment/web", "web=nginx:1.28"])
        .await;
    k.run(&[
        "annotate",
        "deployment/web",
        "kubernetes.io/change-cause=nginx 1.28",
        "--overwrite",
    ])
    .await;
    rolled_out(&k).await;
    assert_eq!(replica_sets(&lab).await, (vec!["nginx:1.28".into()], 2));
    let out = k.run(&["rollout", "history", "deployment/web"]).await;
    assert!(out.contains("1         first release"), "{out}");
    assert!(out.contains("2         nginx 1.28"), "{out}");

    // Undo: the first ReplicaSet comes back as revision 3.
    let out = k.run(&["rollout", "undo", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web rolled back"), "{out}");
    rolled_out(&k).await;
    assert_eq!(replica_sets(&lab).await, (vec!["nginx:1.27".into()], 2));
    let out = k.run(&["rollout", "history", "deployment/web"]).await;
    assert!(out.contains("3         first release"), "{out}");
    let d: Api<Deployment> = Api::namespaced(lab.client.clone(), "default");
    let web = d.get("web").await.unwrap();
    assert_eq!(web.annotations()["deployment.kubernetes.io/revision"], "3");

    // Paused: a template change is observed but not rolled out until resumed.
    k.run(&["rollout", "pause", "deployment/web"]).await;
    k.run(&["set", "image", "deployment/web", "web=nginx:1.29"])
        .await;
    let paused = eventually("the paused change observed", || async {
        let web = d.get("web").await.ok()?;
        let s = web.status.clone()?;
        (s.observed_generation == web.metadata.generation).then_some(web)
    })
    .await;
    let progressing = paused
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        .unwrap();
    assert_eq!(progressing.reason.as_deref(), Some("DeploymentPaused"));
    assert_eq!(replica_sets(&lab).await, (vec!["nginx:1.27".into()], 2));
    k.run(&["rollout", "resume", "deployment/web"]).await;
    rolled_out(&k).await;
    assert_eq!(replica_sets(&lab).await, (vec!["nginx:1.29".into()], 3));

    // Restart: a new template annotation, a new ReplicaSet, the same image.
    let out = k.run(&["rollout", "restart", "deployment/web"]).await;
    assert!(out.contains("deployment.apps/web restarted"), "{out}");
    rolled_out(&k).await;
    assert_eq!(replica_sets(&lab).await, (vec!["nginx:1.29".into()], 4));

    k.run(&["scale", "deployment/web", "--replicas=5"]).await;
    rolled_out(&k).await;
    let out = k.run(&["get", "deploy", "web"]).await;
    assert!(out.contains("5/5"), "{out}");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_set_whose_selector_misses_its_template_is_refused_naming_the_field() {
    let lab = Lab::start(false).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write(
        "rs.yaml",
        "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: frontend}\nspec:\n  \
         selector: {matchLabels: {tier: frontend}}\n  template:\n    metadata: {labels: {tier: backend}}\n    \
         spec: {containers: [{name: php, image: php:8}]}\n",
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &manifest]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "spec.template.metadata.labels: Invalid value: map[string]string{\"tier\":\"backend\"}: \
             `selector` does not match template `labels`"
        ),
        "{err}"
    );
    lab.stop().await;
}
