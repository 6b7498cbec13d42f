//! The pod sync loop: watches the pods bound to this node (fieldSelector spec.nodeName) and
//! keeps one worker per pod UID. After the first complete list it adopts what a previous
//! kubelet left (records in the state dir) and tears down sandboxes of pods that are gone.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::{Api, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::pod_worker::{self, Shared, setup};
use crate::state::{self, PodRecord};

struct WorkerHandle {
    pod: watch::Sender<Option<Pod>>,
    task: JoinHandle<()>,
}

/// Runs until `shutdown`; pods keep running after it (a new kubelet adopts them).
pub(crate) async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let selector = format!("spec.nodeName={}", shared.config.node_name);
    let stream = watcher::watcher(api, watcher::Config::default().fields(&selector));
    let mut stream = std::pin::pin!(stream);
    let mut records: HashMap<String, PodRecord> = state::load_all(&shared.config.state_dir)
        .into_iter()
        .map(|r| (r.uid.clone(), r))
        .collect();
    let mut workers: HashMap<String, WorkerHandle> = HashMap::new();
    let mut listing: HashSet<String> = HashSet::new();
    let mut first_list = true;
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => break,
            e = stream.next() => e,
        };
        let Some(event) = event else { break };
        match event {
            Ok(Event::Init) => listing.clear(),
            Ok(Event::InitApply(pod)) => {
                listing.insert(pod.uid().unwrap_or_default());
                dispatch(&shared, &shutdown, &mut workers, &mut records, Some(pod));
            }
            Ok(Event::InitDone) => {
                // Pods not in the new list were deleted while the watch was down.
                let gone: Vec<String> = workers
                    .keys()
                    .filter(|uid| !listing.contains(*uid))
                    .cloned()
                    .collect();
                for uid in gone {
                    if let Some(w) = workers.remove(&uid) {
                        let _ = w.pod.send(None);
                    }
                }
                if first_list {
                    first_list = false;
                    for (_, record) in records.drain() {
                        tokio::spawn(clean_up_orphan(shared.clone(), record));
                    }
                }
            }
            Ok(Event::Apply(pod)) => {
                dispatch(&shared, &shutdown, &mut workers, &mut records, Some(pod))
            }
            Ok(Event::Delete(pod)) => {
                if let Some(w) = workers.remove(&pod.uid().unwrap_or_default()) {
                    let _ = w.pod.send(None);
                }
            }
            Err(error) => tracing::warn!(%error, "pod watch"),
        }
    }
}

/// Hands a pod to its worker, starting one for a pod new to this kubelet.
fn dispatch(
    shared: &Arc<Shared>,
    shutdown: &CancellationToken,
    workers: &mut HashMap<String, WorkerHandle>,
    records: &mut HashMap<String, PodRecord>,
    pod: Option<Pod>,
) {
    let Some(pod) = pod else { return };
    let uid = pod.uid().unwrap_or_default();
    if let Some(w) = workers.get(&uid) {
        // A finished worker (the pod was deleted by us) keeps its entry until the Delete
        // event, so that late updates do not start the pod again.
        if !w.task.is_finished() {
            let _ = w.pod.send(Some(pod));
        }
        return;
    }
    let adopted = records.remove(&uid);
    let finished = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    if adopted.is_none() && finished {
        // A finished pod this kubelet never ran (or already cleaned up): nothing to do.
        return;
    }
    let (tx, rx) = watch::channel(Some(pod));
    let task = tokio::spawn(pod_worker::run(
        shared.clone(),
        rx,
        adopted,
        shutdown.clone(),
    ));
    workers.insert(uid, WorkerHandle { pod: tx, task });
}

/// A pod this kubelet ran is gone from the API: stop its processes and sandbox.
async fn clean_up_orphan(shared: Arc<Shared>, mut record: PodRecord) {
    tracing::info!(pod = %record.key(), uid = %record.uid, "cleaning up the sandbox of a pod that is gone");
    setup::kill_recorded_containers(&record).await;
    setup::teardown(&shared, &mut record).await;
    if let Err(error) = state::remove(&shared.config.state_dir, &record.uid) {
        tracing::warn!(pod = %record.key(), %error, "removing pod state");
    }
}
