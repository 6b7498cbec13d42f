//! How fast the lab's kubelet brings pods up: 20 agnhost netexec pods created at once on one
//! node, each timed from its create call to the first list that shows it Ready. Prints
//! p50/p90/max; fails only if a pod is not Ready within the timeout. Run inside
//! `unshare --net --mount --propagation private` (see kubelet_pods.rs).

// The harness is shared with kubelet_pods.rs, which uses all of it; this suite needs less.
#[allow(dead_code)]
#[path = "kubelet/harness.rs"]
mod harness;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use harness::*;
use kube::api::ListParams;
use serde_json::json;

const PODS: usize = 20;

#[test]
fn kubelet_twenty_pods_become_ready_and_create_to_ready_latency_is_reported() {
    let node = &Node::new("kl-latency");
    node.run(|c| async move {
        let mut created = HashMap::new();
        for i in 0..PODS {
            let name = format!("lat-{i}");
            created.insert(name.clone(), Instant::now());
            c.create_pod(&name, json!({"containers": [netexec(json!({}))]}))
                .await;
        }
        let mut ready: HashMap<String, Duration> = HashMap::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while ready.len() < PODS {
            assert!(
                Instant::now() < deadline,
                "only {} of {PODS} pods Ready",
                ready.len()
            );
            for pod in c.pods().list(&ListParams::default()).await.unwrap() {
                let name = pod.metadata.name.clone().unwrap();
                if is_ready(&pod) && !ready.contains_key(&name) {
                    ready.insert(name.clone(), created[&name].elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut times: Vec<Duration> = ready.into_values().collect();
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1)];
        println!(
            "kubelet create→Ready over {PODS} pods: p50 {:?}, p90 {:?}, max {:?}",
            at(0.5),
            at(0.9),
            times[times.len() - 1]
        );
        for i in 0..PODS {
            c.delete_pod(&format!("lat-{i}"), Some(1)).await;
        }
        for i in 0..PODS {
            c.wait_gone(&format!("lat-{i}"), Duration::from_secs(30))
                .await;
        }
    });
}
