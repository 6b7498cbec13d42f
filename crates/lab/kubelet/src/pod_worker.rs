//! One task per pod (by UID): brings the sandbox up, starts and restarts containers, posts
//! status when it changes, and on deletion stops everything gracefully and deletes the pod
//! with gracePeriodSeconds=0. It wakes on pod updates, container exits and probe results,
//! and every `resync` otherwise.
//!
//! - [`setup`]: the sandbox on the pod's record (create, teardown).
//! - [`containers`]: container processes, exits, probes, back-off.
//! - [`ephemeral`]: ephemeral containers (`kubectl debug`).
//! - [`image_pull`]: the pull step of an image that cannot be had (ErrImagePull).

pub(crate) mod containers;
pub(crate) mod ephemeral;
pub(crate) mod image_pull;
pub(crate) mod setup;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::{Api, Client};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::config::KubeletConfig;
use crate::error::is_not_found;
use crate::pod_objects::PodObjects;
use crate::sandbox::network::Network;
use crate::state::{self, PodRecord};
use crate::status::{self, ContainerView, PodView};
use containers::ContainerRt;

/// Tries of the final gracePeriodSeconds=0 delete.
const DELETE_ATTEMPTS: usize = 10;

/// What every pod worker of a kubelet shares.
pub(crate) struct Shared {
    pub client: Client,
    /// The kubelet's events.
    pub recorder: podnet_k8s_events::Recorder,
    pub config: KubeletConfig,
    pub network: Network,
    /// The node's resolv.conf, for dnsPolicy Default.
    pub node_resolv: String,
    /// Consoles of the containers with stdin or tty, for attach.
    pub consoles: crate::container::console::Consoles,
}

/// A pod's run-time state, shared by its worker, exit watchers and probes.
pub(crate) struct PodState {
    pub record: PodRecord,
    pub containers: BTreeMap<String, ContainerRt>,
    pub sandbox_ready: bool,
    /// Grace period of the pod (for liveness kills and deletion).
    pub grace: Duration,
}

/// Handles a worker's helpers need.
#[derive(Clone)]
pub(crate) struct WorkerCtx {
    pub shared: Arc<Shared>,
    pub state: Arc<Mutex<PodState>>,
    pub wake: Arc<Notify>,
    /// Cancelled when the kubelet stops (processes keep running) or the pod is gone.
    pub cancel: CancellationToken,
}

pub(crate) fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

/// Runs the worker of one pod until the pod is gone (deleted by us, or from the API), or
/// the kubelet stops. `adopted` is the record a previous kubelet left for this pod.
pub(crate) async fn run(
    shared: Arc<Shared>,
    mut pod_rx: watch::Receiver<Option<Pod>>,
    adopted: Option<PodRecord>,
    shutdown: CancellationToken,
) {
    let Some(pod) = pod_rx.borrow().clone() else {
        return;
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let record = adopted.clone().unwrap_or_else(|| {
        PodRecord::new(
            pod.metadata.namespace.as_deref().unwrap_or(""),
            pod.metadata.name.as_deref().unwrap_or(""),
            &uid,
        )
    });
    let ctx = WorkerCtx {
        shared,
        state: Arc::new(Mutex::new(PodState {
            record,
            containers: BTreeMap::new(),
            sandbox_ready: false,
            grace: grace_of(&pod),
        })),
        wake: Arc::new(Notify::new()),
        cancel: shutdown.child_token(),
    };
    if adopted.is_some() {
        adopt(&ctx, &pod).await;
    }
    let mut worker = Worker {
        ctx,
        last_status: None,
        volumes: Default::default(),
    };
    let resync = worker.ctx.shared.config.resync;
    loop {
        let pod = pod_rx.borrow_and_update().clone();
        let Some(pod) = pod else {
            // Gone from the API without our deletion (force-deleted): stop at once.
            worker.stop_all(None, Duration::ZERO).await;
            worker.forget().await;
            break;
        };
        if pod.metadata.deletion_timestamp.is_some() {
            let grace = pod
                .metadata
                .deletion_grace_period_seconds
                .map_or_else(|| grace_of(&pod), |s| Duration::from_secs(s.max(0) as u64));
            worker.stop_all(Some(&pod), grace).await;
            worker.forget().await;
            worker.delete(&pod).await;
            break;
        }
        worker.sync(&pod).await;
        tokio::select! {
            _ = worker.ctx.cancel.cancelled() => break,
            r = pod_rx.changed() => if r.is_err() { break },
            _ = worker.ctx.wake.notified() => {}
            _ = tokio::time::sleep(resync) => {}
        }
    }
    worker.ctx.cancel.cancel();
}

fn grace_of(pod: &Pod) -> Duration {
    let secs = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30);
    Duration::from_secs(secs.max(0) as u64)
}

/// Takes over the sandbox and running containers a previous kubelet left.
async fn adopt(ctx: &WorkerCtx, pod: &Pod) {
    let record = ctx.state.lock().unwrap().record.clone();
    let infra_alive = record.infra.is_some_and(|p| p.is_alive());
    if !infra_alive {
        // The sandbox is lost: undo what is left and start over.
        setup::kill_recorded_containers(&record).await;
        let mut record = record;
        setup::teardown(&ctx.shared, &mut record).await;
        let mut st = ctx.state.lock().unwrap();
        for (name, c) in &record.containers {
            let mut rt = ContainerRt::new();
            rt.restart_count = c.restart_count;
            st.containers.insert(name.clone(), rt);
        }
        st.record = record;
        return;
    }
    ctx.state.lock().unwrap().sandbox_ready = record.network_attached || record.netns.is_none();
    // Only exec probes use the environment: without the objects they run with none.
    let objects = PodObjects::fetch(&ctx.shared.client, pod, true)
        .await
        .unwrap_or_default();
    for c in pod.spec.iter().flat_map(|s| &s.containers) {
        let Some(rec) = record.containers.get(&c.name) else {
            continue;
        };
        match rec.process.filter(|p| p.is_alive()) {
            Some(p) => containers::adopt(ctx, pod, c, rec, p, &objects),
            None => {
                let mut rt = ContainerRt::new();
                rt.restart_count = rec.restart_count;
                ctx.state
                    .lock()
                    .unwrap()
                    .containers
                    .insert(c.name.clone(), rt);
            }
        }
    }
}

struct Worker {
    ctx: WorkerCtx,
    last_status: Option<PodStatus>,
    volumes: crate::volume::PodVolumes,
}

// === impl Worker ===

impl Worker {
    async fn sync(&mut self, pod: &Pod) {
        let terminal = matches!(
            self.last_status
                .as_ref()
                .or(pod.status.as_ref())
                .and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        let needs_sandbox = {
            let st = self.ctx.state.lock().unwrap();
            st.record.infra.is_none() && !terminal
        };
        if needs_sandbox {
            self.create_sandbox(pod).await;
        }
        let sandbox_ready = self.ctx.state.lock().unwrap().sandbox_ready;
        // Containers start once the sandbox is up and the pod's volumes are mounted.
        let may_start = sandbox_ready
            && !terminal
            && crate::volume::sync(&self.ctx, pod, &mut self.volumes).await;
        if may_start {
            let due: Vec<_> = pod
                .spec
                .iter()
                .flat_map(|s| &s.containers)
                .filter(|c| {
                    let start = {
                        let st = self.ctx.state.lock().unwrap();
                        match st.containers.get(&c.name) {
                            None => true,
                            Some(rt) => !rt.has_run() && !rt.is_running(),
                        }
                    };
                    start || containers::restart_due(&self.ctx, pod, &c.name)
                })
                .collect();
            let ephemeral: Vec<_> = ephemeral::containers(pod)
                .into_iter()
                .filter(|c| {
                    !self
                        .ctx
                        .state
                        .lock()
                        .unwrap()
                        .containers
                        .contains_key(&c.name)
                })
                .collect();
            let due: Vec<_> = due.into_iter().chain(&ephemeral).collect();
            if !due.is_empty() {
                // Read once for all the containers starting now, as upstream reads its
                // informers' current state at container start.
                match PodObjects::fetch(&self.ctx.shared.client, pod, true).await {
                    Ok(objects) => {
                        for c in due {
                            containers::start(&self.ctx, pod, c, &objects);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(pod = %containers::pod_key(pod), %error, "reading the pod's ConfigMaps, Secrets and Services");
                        for c in due {
                            containers::config_error(&self.ctx, pod, c, error.to_string());
                        }
                    }
                }
            }
        }
        let status = self.status(pod);
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        if finished && self.ctx.state.lock().unwrap().record.infra.is_some() {
            // A finished pod keeps its status but not its sandbox (upstream kills it too).
            let mut record = self.ctx.state.lock().unwrap().record.clone();
            setup::teardown(&self.ctx.shared, &mut record).await;
            let mut st = self.ctx.state.lock().unwrap();
            st.record = record;
            st.sandbox_ready = false;
        }
        self.post_status(pod, status).await;
    }

    async fn create_sandbox(&self, pod: &Pod) {
        let mut record = self.ctx.state.lock().unwrap().record.clone();
        let result = setup::create(&self.ctx.shared, pod, &mut record).await;
        if let Err(error) = &result {
            tracing::warn!(pod = %record.key(), %error, "sandbox setup failed; retrying");
            setup::teardown(&self.ctx.shared, &mut record).await;
        }
        let mut st = self.ctx.state.lock().unwrap();
        st.record = record;
        st.sandbox_ready = result.is_ok();
        if let Err(error) = result {
            for c in pod.spec.iter().flat_map(|s| &s.containers) {
                let rt = st
                    .containers
                    .entry(c.name.clone())
                    .or_insert_with(ContainerRt::new);
                if !rt.has_run() {
                    rt.state = crate::status::RunState::Waiting {
                        reason: "ContainerCreating".into(),
                        message: Some(error.to_string()),
                    };
                }
            }
        }
    }

    fn status(&self, pod: &Pod) -> PodStatus {
        let st = self.ctx.state.lock().unwrap();
        let views: Vec<ContainerView> = pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| match st.containers.get(&c.name) {
                Some(rt) => rt.view(c),
                None => ContainerRt::new().view(c),
            })
            .collect();
        let ephemeral: Vec<ContainerView> = ephemeral::containers(pod)
            .iter()
            .map(|c| match st.containers.get(&c.name) {
                Some(rt) => rt.view(c),
                None => ContainerRt::new().view(c),
            })
            .collect();
        let mut base = pod.clone();
        if let Some(last) = &self.last_status {
            // Conditions' transition times come from what we posted, which the watch may
            // not have shown yet.
            base.status = Some(last.clone());
        }
        let mut status = status::pod_status(
            &base,
            &PodView {
                sandbox_ready: st.sandbox_ready,
                pod_ips: &st.record.pod_ips,
                host_ip: self.ctx.shared.config.node_ip,
                start_time: st.record.start_time.clone(),
                containers: &views,
                now: now(),
            },
        );
        if !ephemeral.is_empty() {
            status.ephemeral_container_statuses = Some(status::container_statuses(&ephemeral));
        }
        status
    }

    async fn post_status(&mut self, pod: &Pod, status: PodStatus) {
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let api: Api<Pod> = Api::namespaced(
            self.ctx.shared.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let name = pod.metadata.name.as_deref().unwrap_or("");
        let patch = serde_json::json!({ "status": status });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(error) => {
                tracing::warn!(pod = %containers::pod_key(pod), %error, "posting pod status")
            }
        }
    }

    /// SIGTERM every container, SIGKILL those still there after `grace`; `Killing` events
    /// about the pod when it is still there to be told.
    async fn stop_all(&self, pod: Option<&Pod>, grace: Duration) {
        let procs: Vec<_> = {
            let mut st = self.ctx.state.lock().unwrap();
            st.containers
                .iter_mut()
                .filter_map(|(name, rt)| {
                    rt.ready = false;
                    Some((name.clone(), rt.process.filter(|_| rt.is_running())?))
                })
                .collect()
        };
        if let Some(pod) = pod {
            for (name, _) in &procs {
                crate::events::stopping(&self.ctx.shared.recorder, pod, name);
            }
        }
        let stops = procs
            .into_iter()
            .map(|(_, p)| containers::stop_process(p, grace));
        futures::future::join_all(stops).await;
    }

    /// Tears the sandbox down and drops the pod's state.
    async fn forget(&self) {
        let mut record = self.ctx.state.lock().unwrap().record.clone();
        setup::teardown(&self.ctx.shared, &mut record).await;
        let state_dir = &self.ctx.shared.config.state_dir;
        if let Err(error) = state::remove(state_dir, &record.uid) {
            tracing::warn!(pod = %record.key(), %error, "removing pod state");
        }
        // Its logs go with it, as the kubelet removes /var/log/pods/<pod> (a logger still
        // finishing writes to a removed file).
        let logs =
            crate::logs::pod_log_dir(state_dir, &record.namespace, &record.name, &record.uid);
        if let Err(error) = std::fs::remove_dir_all(&logs)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(pod = %record.key(), %error, "removing pod logs");
        }
        tracing::info!(pod = %record.key(), "pod stopped and cleaned up");
    }

    /// The end of the graceful-deletion handshake: the pod goes from the API at once.
    async fn delete(&self, pod: &Pod) {
        let api: Api<Pod> = Api::namespaced(
            self.ctx.shared.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        let name = pod.metadata.name.as_deref().unwrap_or("");
        // The worker ends after this: retry a while, or the pod stays Terminating.
        for _ in 0..DELETE_ATTEMPTS {
            match api.delete(name, &params).await {
                Ok(_) => return,
                Err(e) if is_not_found(&e) => return,
                Err(error) => {
                    tracing::warn!(pod = %containers::pod_key(pod), %error, "deleting pod");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
