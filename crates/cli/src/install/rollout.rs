//! Waiting for the rollout as `kubectl rollout status` judges it: the controller has seen
//! the newest generation, and every replica is updated and available.

use std::time::{Duration, Instant};

use anyhow::bail;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};

use crate::lab::manifest::Object;
use crate::lab::progress::Steps;

/// Rollout progress: (done, wanted), or None while the controller has not caught up.
type Progress = Option<(i32, i32)>;

pub async fn wait(
    client: &kube::Client,
    objects: &[Object],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut steps = Steps::new();
    for obj in objects {
        let kind = obj.kind();
        if kind != "DaemonSet" && kind != "Deployment" {
            continue;
        }
        let ns = obj.namespace().unwrap_or("default");
        let name = obj.name();
        let what = format!("{} {ns}/{name} rolling out", kind.to_lowercase());
        steps.start(&what);
        loop {
            let progress = if kind == "DaemonSet" {
                daemon_set(client, ns, name).await?
            } else {
                deployment(client, ns, name).await?
            };
            match progress {
                Some((done, wanted)) if done >= wanted && wanted > 0 => {
                    steps.done(&format!("{done}/{wanted} ready"));
                    break;
                }
                Some((done, wanted)) => steps.update(&format!("{done}/{wanted} ready")),
                None => steps.update("waiting for its controller"),
            }
            if Instant::now() > deadline {
                steps.fail();
                bail!(
                    "{what}: not done within {timeout:?} (kubectl -n {ns} describe {} {name})",
                    kind.to_lowercase()
                );
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

async fn daemon_set(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Progress> {
    let api: kube::Api<DaemonSet> = kube::Api::namespaced(client.clone(), ns);
    let ds = api.get(name).await?;
    let generation = ds.metadata.generation.unwrap_or(0);
    let Some(status) = ds.status else {
        return Ok(None);
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Ok(None);
    }
    let wanted = status.desired_number_scheduled;
    let updated = status.updated_number_scheduled.unwrap_or(0);
    let available = status.number_available.unwrap_or(0);
    Ok(Some((updated.min(available), wanted)))
}

async fn deployment(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Progress> {
    let api: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), ns);
    let d = api.get(name).await?;
    let generation = d.metadata.generation.unwrap_or(0);
    let wanted = d.spec.replicas.unwrap_or(1);
    let Some(status) = d.status else {
        return Ok(None);
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Ok(None);
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    // Old replicas still running count against it, as in kubectl.
    let done = if total > updated {
        0
    } else {
        updated.min(available)
    };
    Ok(Some((done, wanted)))
}
