//! DaemonSets through kubectl against the real API server, controllers and scheduler: the
//! Kubernetes documentation's fluentd-elasticsearch manifest, applied unchanged.

#[path = "support/lab.rs"]
mod support;

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use podnet_test_util::Kubectl;
use support::{Lab, eventually};

const MANIFEST: &str = include_str!("../../../../examples/manifests/daemonset.yaml");
const DS: &str = "ds/fluentd-elasticsearch";

async fn images_by_node(lab: &Lab) -> Vec<(String, String)> {
    let api: Api<Pod> = Api::namespaced(lab.client.clone(), "kube-system");
    let pods = api
        .list(&ListParams::default().labels("name=fluentd-elasticsearch"))
        .await
        .unwrap()
        .items;
    let mut out: Vec<(String, String)> = pods
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let spec = p.spec?;
            Some((spec.node_name?, spec.containers[0].image.clone()?))
        })
        .collect();
    out.sort();
    out
}

async fn rolled_out(k: &Kubectl) {
    let out = k
        .run(&[
            "rollout",
            "status",
            DS,
            "-n",
            "kube-system",
            "--timeout=60s",
        ])
        .await;
    assert!(
        out.contains("daemon set \"fluentd-elasticsearch\" successfully rolled out"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documentation_daemon_set_runs_on_every_node_and_rolls_out_new_images() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write("daemonset.yaml", MANIFEST);
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(
        out.contains("daemonset.apps/fluentd-elasticsearch created"),
        "{out}"
    );
    rolled_out(&k).await;
    let placed = images_by_node(&lab).await;
    let nodes: BTreeSet<&str> = placed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        nodes,
        ["lab-control-plane", "lab-worker", "lab-worker2"].into(),
        "the manifest tolerates the control plane"
    );

    let out = k.run(&["get", "ds", "-n", "kube-system"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE",
            "SELECTOR",
            "AGE"
        ]
    );
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..7],
        ["fluentd-elasticsearch", "3", "3", "3", "3", "3", "<none>"]
    );

    k.run(&[
        "set",
        "image",
        DS,
        "-n",
        "kube-system",
        "fluentd-elasticsearch=quay.io/fluentd_elasticsearch/fluentd:v2.6.0",
    ])
    .await;
    rolled_out(&k).await;
    let images: BTreeSet<String> = images_by_node(&lab)
        .await
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    assert_eq!(
        images,
        ["quay.io/fluentd_elasticsearch/fluentd:v2.6.0".to_string()].into()
    );
    let out = k
        .run(&["get", "controllerrevisions", "-n", "kube-system"])
        .await;
    assert!(
        out.contains("daemonset.apps/fluentd-elasticsearch   2"),
        "{out}"
    );
    let out = k
        .run(&["rollout", "history", DS, "-n", "kube-system"])
        .await;
    assert!(out.contains("1 ") && out.contains("2 "), "{out}");

    let out = k.run(&["rollout", "undo", DS, "-n", "kube-system"]).await;
    assert!(out.contains("rolled back"), "{out}");
    rolled_out(&k).await;
    let images = eventually("the first image back on every node", || async {
        let placed = images_by_node(&lab).await;
        let all_old = placed.len() == 3
            && placed
                .iter()
                .all(|(_, i)| i == "quay.io/fluentd_elasticsearch/fluentd:v2.5.2");
        all_old.then_some(placed)
    })
    .await;
    assert_eq!(images.len(), 3);
    lab.stop().await;
}
