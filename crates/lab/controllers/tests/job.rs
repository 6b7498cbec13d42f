//! Jobs through kubectl against the real API server and controllers: the Kubernetes
//! documentation's `pi` Job, applied unchanged. No kubelet runs pods to completion here:
//! the test writes each pod's end into its status, as a kubelet would.

#[path = "support/lab.rs"]
mod support;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use podnet_test_util::Kubectl;
use serde_json::json;
use support::{Lab, eventually};

const PI: &str = include_str!("../../../../examples/manifests/job.yaml");

/// Waits for the job's running pod (the kubelet stand-in gave it an IP) and ends it.
async fn finish_pod(lab: &Lab, job: &str, phase: &str) -> Pod {
    let api: Api<Pod> = Api::namespaced(lab.client.clone(), "default");
    let pod = eventually("a running pod of the job", || async {
        let list = api
            .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
            .await
            .ok()?;
        list.items.into_iter().find(|p| {
            let s = p.status.as_ref();
            s.and_then(|s| s.pod_ip.as_ref()).is_some()
                && s.and_then(|s| s.phase.as_deref()) == Some("Running")
        })
    })
    .await;
    let status = json!({"status": {"phase": phase}});
    api.patch_status(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&status),
    )
    .await
    .unwrap();
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documentation_job_completes_and_kubectl_wait_sees_it() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write("pi.yaml", PI);
    let out = k.run(&["apply", "-f", &manifest]).await;
    assert!(out.contains("job.batch/pi created"), "{out}");
    let pod = finish_pod(&lab, "pi", "Succeeded").await;
    assert!(pod.name_any().starts_with("pi-"), "{}", pod.name_any());
    let labels = pod.labels();
    assert_eq!(labels["job-name"], "pi");
    assert_eq!(
        labels["batch.kubernetes.io/controller-uid"],
        labels["controller-uid"]
    );
    let out = k
        .run(&[
            "wait",
            "--for=condition=complete",
            "job/pi",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("job.batch/pi condition met"), "{out}");
    let out = k.run(&["get", "jobs"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["pi", "Complete", "1/1"], "{out}");
    let out = k
        .run(&[
            "get",
            "job",
            "pi",
            "-o",
            "jsonpath={.spec.selector.matchLabels}",
        ])
        .await;
    assert!(out.contains("batch.kubernetes.io/controller-uid"), "{out}");
    lab.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_backoff_limit_fails_and_a_restart_policy_always_is_refused() {
    let lab = Lab::start(true).await;
    let k = Kubectl::anonymous(&format!("http://{}", lab.config.api_server));
    let manifest = k.write(
        "fail.yaml",
        &PI.replace("name: pi", "name: fail")
            .replace("backoffLimit: 4", "backoffLimit: 1"),
    );
    k.run(&["apply", "-f", &manifest]).await;
    finish_pod(&lab, "fail", "Failed").await;
    eventually("a retry", || async {
        let api: Api<Pod> = Api::namespaced(lab.client.clone(), "default");
        let list = api
            .list(&ListParams::default().labels("job-name=fail"))
            .await
            .ok()?;
        (list.items.len() == 2).then_some(())
    })
    .await;
    finish_pod(&lab, "fail", "Failed").await;
    let out = k
        .run(&[
            "wait",
            "--for=condition=failed",
            "job/fail",
            "--timeout=60s",
        ])
        .await;
    assert!(out.contains("job.batch/fail condition met"), "{out}");
    let reason = k
        .run(&[
            "get",
            "job",
            "fail",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Failed\")].reason}",
        ])
        .await;
    assert_eq!(reason, "BackoffLimitExceeded");

    let always = k.write(
        "always.yaml",
        &PI.replace("name: pi", "name: always")
            .replace("restartPolicy: Never", "restartPolicy: Always"),
    );
    let (ok, _, err) = k.try_run(&["apply", "-f", &always]).await;
    assert!(!ok);
    assert!(
        err.contains(
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        ),
        "{err}"
    );
    lab.stop().await;
}
