//! Waiting until a lab's workloads are up: every Deployment has its replicas Ready and every
//! pod is Ready (or finished), as `kubectl wait` would be asked.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::client;
use super::progress::Steps;

/// Until every pod is Ready or Succeeded and every Deployment has all its replicas
/// updated and Ready; returns the number of pods. Fails after `wait` naming what is not
/// ready and why.
pub async fn wait_ready(
    client: &kube::Client,
    wait: Duration,
    steps: &Steps,
) -> anyhow::Result<usize> {
    let pods: kube::Api<Pod> = kube::Api::all(client.clone());
    let deployments: kube::Api<Deployment> = kube::Api::all(client.clone());
    let deadline = Instant::now() + wait;
    loop {
        let pods = pods
            .list(&Default::default())
            .await
            .map_err(client::api_error)?
            .items;
        let deployments = deployments
            .list(&Default::default())
            .await
            .map_err(client::api_error)?
            .items;
        let live: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let waiting: Vec<&Pod> = live.iter().copied().filter(|p| !pod_done(p)).collect();
        let rolling: Vec<&Deployment> =
            deployments.iter().filter(|d| !deployment_done(d)).collect();
        steps.update(&format!(
            "{}/{} Ready{}",
            live.len() - waiting.len(),
            live.len(),
            if rolling.is_empty() {
                String::new()
            } else {
                format!(", {} deployments rolling out", rolling.len())
            }
        ));
        if waiting.is_empty() && rolling.is_empty() {
            return Ok(live.len());
        }
        if Instant::now() > deadline {
            let mut why: Vec<String> = waiting.iter().map(|p| describe(p)).collect();
            why.extend(rolling.iter().map(|d| {
                format!(
                    "deployment {}/{}: replicas not all Ready",
                    ns(&d.metadata),
                    name(&d.metadata)
                )
            }));
            return Err(anyhow!(
                "not Ready after {wait:?}:\n  {}\n(see `podnet lab logs POD` and `podnet lab logs NODE/kubelet`)",
                why.join("\n  ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pod_done(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    if status.phase.as_deref() == Some("Succeeded") {
        return true;
    }
    status
        .conditions
        .as_ref()
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn deployment_done(d: &Deployment) -> bool {
    let want = d.spec.replicas.unwrap_or(1);
    let Some(status) = &d.status else {
        return want == 0;
    };
    let observed = status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
    observed
        && status.updated_replicas.unwrap_or(0) >= want
        && status.ready_replicas.unwrap_or(0) >= want
}

/// `namespace/name: phase (container: reason)` for a pod that is not Ready.
fn describe(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut out = format!(
        "pod {}/{}: {}",
        ns(&pod.metadata),
        name(&pod.metadata),
        status.phase.as_deref().unwrap_or("Pending")
    );
    if pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_none()
    {
        out.push_str(" (not scheduled)");
    }
    for c in status.container_statuses.unwrap_or_default() {
        let state = c.state.unwrap_or_default();
        if let Some(w) = state.waiting {
            out.push_str(&format!(" ({}: {})", c.name, w.reason.unwrap_or_default()));
        } else if !c.ready {
            out.push_str(&format!(" ({}: not ready)", c.name));
        }
    }
    out
}

fn ns(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("default")
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}
