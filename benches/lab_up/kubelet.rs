//! The kubelet on its own (what tests/kubelet_latency.rs used to time): one node namespace
//! with the lab API server and the kubelet running in it (tests/kubelet/harness.rs), and the
//! pods created already bound to the node, all at once. No scheduler, no Deployment
//! controller, no agent: the kubelet's share of a lab's create→Ready.

use std::time::Duration;

use super::harness::{Node, netexec};
use super::watch::{PodWatch, Timeline};
use serde_json::json;

pub fn round(pods: usize) -> Result<Timeline, String> {
    let node = Node::new("bench-kubelet");
    let mut outcome = Err("the kubelet harness did not run".to_owned());
    node.run(|c| {
        let outcome = &mut outcome;
        async move {
            let timeline = async {
                let watch = PodWatch::start(c.pods()).await?;
                // Created while the watch is read, so each event is timed as it arrives.
                let create = async {
                    for i in 0..pods {
                        c.create_pod(
                            &format!("lat-{i}"),
                            json!({"containers": [netexec(json!({}))]}),
                        )
                        .await;
                    }
                };
                let ((), timeline) =
                    tokio::join!(create, watch.until_ready(pods, Duration::from_secs(120)));
                timeline
            }
            .await;
            *outcome = timeline;
            // Pods go through the kubelet's stop and CNI DEL before the node goes away.
            for i in 0..pods {
                c.delete_pod(&format!("lat-{i}"), Some(1)).await;
            }
            for i in 0..pods {
                c.wait_gone(&format!("lat-{i}"), Duration::from_secs(60))
                    .await;
            }
        }
    });
    outcome
}
