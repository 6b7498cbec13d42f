//! A pod's volumes: emptyDir, configMap, secret, downwardAPI, projected (with the
//! ServiceAccount token) and hostPath, laid out under the pod's state directory as upstream's plugins do
//! (`volumes/kubernetes.io~configmap/NAME`) and mounted at the containers' `mountPath`s in
//! the pod's mount namespace (the infra process's) through `podnet_netns::mount`.
//!
//! The content of API-data volumes is rewritten (atomically, only when it changed) every
//! [`REFRESH`], so ConfigMap, Secret and label changes and refreshed tokens reach running
//! containers as in a real kubelet; until a pod's volumes are first set up its containers
//! wait in ContainerCreating with the reason (and a FailedMount event).
//!
//! - [`plan`]: each volume's content and the mounts (pure).
//! - [`atomic`]: the `..data` symlink-swap writer.
//! - [`host_path`]: hostPath's `type` checks.
//! - [`token`]: ServiceAccount tokens through TokenRequest, refreshed before they expire.

pub(crate) mod atomic;
pub(crate) mod host_path;
pub(crate) mod plan;
pub(crate) mod token;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::time::Instant;

use crate::downward::PodRuntime;
use crate::pod_objects::PodObjects;
use crate::pod_worker::WorkerCtx;
use crate::state;
use crate::status::RunState;
use plan::{Content, VolumePlan};

/// How often API-data volumes are brought up to date (upstream: the sync period, ~1 min).
const REFRESH: Duration = Duration::from_secs(5);

/// A pod's volume state across syncs.
#[derive(Debug, Default)]
pub(crate) struct PodVolumes {
    tokens: token::Tokens,
    next_refresh: Option<Instant>,
}

/// Sets up (first) or refreshes the pod's volumes; returns whether its containers may start
/// (the volumes are mounted).
pub(crate) async fn sync(ctx: &WorkerCtx, pod: &Pod, volumes: &mut PodVolumes) -> bool {
    let (mounted, infra, ips) = {
        let st = ctx.state.lock().unwrap();
        let r = &st.record;
        (r.volumes_mounted, r.infra, r.pod_ips.clone())
    };
    let Some(infra) = infra else {
        return false;
    };
    if mounted && volumes.next_refresh.is_some_and(|t| Instant::now() < t) {
        return true;
    }
    let key = crate::pod_worker::containers::pod_key(pod);
    match set_up(ctx, pod, volumes, &ips, (!mounted).then_some(infra.pid)).await {
        Ok(()) => {
            volumes.next_refresh = Some(Instant::now() + REFRESH);
            if !mounted {
                let mut st = ctx.state.lock().unwrap();
                st.record.volumes_mounted = true;
                if let Err(error) = state::save(&ctx.shared.config.state_dir, &st.record) {
                    tracing::warn!(pod = %key, %error, "saving pod record");
                }
            }
            true
        }
        Err(message) if mounted => {
            // Running containers keep the content they have, as upstream.
            tracing::warn!(pod = %key, %message, "refreshing volumes");
            volumes.next_refresh = Some(Instant::now() + REFRESH);
            true
        }
        Err(message) => {
            tracing::info!(pod = %key, %message, "volumes not ready");
            crate::events::failed_mount(&ctx.shared.recorder, pod, &message);
            let mut st = ctx.state.lock().unwrap();
            for c in pod.spec.iter().flat_map(|s| &s.containers) {
                let rt = st
                    .containers
                    .entry(c.name.clone())
                    .or_insert_with(crate::pod_worker::containers::ContainerRt::new);
                if !rt.has_run() {
                    rt.state = RunState::Waiting {
                        reason: "ContainerCreating".into(),
                        message: Some(message.clone()),
                    };
                }
            }
            false
        }
    }
}

/// Writes every volume's content, then (when `mount_into` names the infra process) mounts
/// them in its namespace.
async fn set_up(
    ctx: &WorkerCtx,
    pod: &Pod,
    volumes: &mut PodVolumes,
    pod_ips: &[std::net::IpAddr],
    mount_into: Option<i32>,
) -> Result<(), String> {
    let spec = pod.spec.as_ref();
    if spec
        .and_then(|s| s.volumes.as_ref())
        .is_none_or(Vec::is_empty)
    {
        return Ok(());
    }
    let shared = &ctx.shared;
    let objects = PodObjects::fetch(&shared.client, pod, false)
        .await
        .map_err(|e| e.to_string())?;
    let tokens = volumes
        .tokens
        .current(&shared.client, pod, plan::token_specs(pod))
        .await
        .map_err(|e| e.to_string())?;
    let allocatable = crate::node::capacity();
    let runtime = PodRuntime {
        pod_ips,
        host_ip: shared.config.node_ip,
        allocatable: &allocatable,
    };
    let plans = plan::volumes(pod, &objects, &runtime, &tokens)?;
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let root = state::pod_dir(&shared.config.state_dir, uid).join("volumes");
    let dir_of = |v: &VolumePlan| root.join(v.plugin).join(&v.name);
    for v in &plans {
        let dir = dir_of(v);
        let written = match &v.content {
            Content::EmptyDir { .. } => std::fs::create_dir_all(&dir).map(|_| false),
            Content::Files(files) => atomic::write(&dir, files),
            Content::HostPath { path, kind } => {
                host_path::check(path, kind)?;
                continue;
            }
        };
        match written {
            Ok(true) => {
                tracing::info!(pod = %pod.metadata.name.as_deref().unwrap_or(""), volume = %v.name, "volume content updated")
            }
            Ok(false) => {}
            Err(e) => return Err(format!("write volume {} in {}: {e}", v.name, dir.display())),
        }
    }
    let Some(pid) = mount_into else {
        return Ok(());
    };
    let mounts = plan::mounts(pod, &plans, dir_of)?;
    tokio::task::spawn_blocking(move || podnet_netns::mount::mount_in(pid, &mounts))
        .await
        .map_err(|e| format!("mount task: {e}"))?
        .map_err(|e| format!("mount volumes: {e}"))
}
