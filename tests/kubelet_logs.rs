//! The kubelet's container logs on a real node: the logger beside each container writes CRI
//! entries rotated at the configured size, and keeps the container's output flowing while
//! the kubelet itself is stopped and started again. Run inside
//! `unshare --net --mount --propagation private`.

// This suite uses a part of the harness.
#[allow(dead_code)]
#[path = "kubelet/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::*;
use podnet_lab_kubelet::logs::{self, LogRotation};
use serde_json::json;

#[test]
fn kubelet_logs_rotate_at_the_configured_size_and_flow_through_a_kubelet_restart() {
    let node = &Node::new("kl-logs");
    node.run(|mut c| async move {
        c.stop_kubelet().await;
        c.config.log_rotation = LogRotation {
            max_size: 4096,
            max_files: 3,
        };
        c.start_kubelet();
        let script = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.01; done";
        c.create_pod(
            "ticker",
            json!({"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}),
        )
        .await;
        c.wait_ready("ticker").await;
        let dir = logs::find_container_log_dir(&c.config.state_dir, "default", "ticker", "c")
            .expect("a log dir");
        let current = logs::instance_log_path(&dir, 0);
        let rotated = |dir: &std::path::Path| -> Vec<std::path::PathBuf> {
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.to_string_lossy().contains("0.log."))
                .collect();
            files.sort();
            files
        };
        // Rotated at least twice: only max_files - 1 rotated files are kept, none too big.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let last = last_tick(&c.container_log("ticker", "c", false).await);
            // ~12 bytes of text and ~45 of CRI prefix a line: 4 KiB holds about 70 lines.
            if last > 400 {
                break;
            }
            assert!(Instant::now() < deadline, "the ticker did not get far: {last}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let kept = rotated(&dir);
        assert_eq!(kept.len(), 2, "{kept:?}");
        for f in kept.iter().chain([&current]) {
            let size = std::fs::metadata(f).unwrap().len();
            assert!(size <= 4096, "{} is {size} bytes", f.display());
        }

        // The kubelet stops and starts again: the same container instance keeps writing to
        // the same file meanwhile, with no line lost.
        let before = last_tick(&c.container_log("ticker", "c", false).await);
        c.stop_kubelet().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        c.start_kubelet();
        let deadline = Instant::now() + Duration::from_secs(30);
        let text = loop {
            let text = c.container_log("ticker", "c", false).await;
            if last_tick(&text) > before + 50 {
                break text;
            }
            assert!(Instant::now() < deadline, "no ticks after the kubelet restart");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(logs::layout::instances(&dir), [0], "the container was restarted");
        let ticks: Vec<u32> = text
            .lines()
            .map(|l| l.strip_prefix("tick ").unwrap().parse().unwrap())
            .collect();
        assert!(
            ticks.windows(2).all(|w| w[1] == w[0] + 1),
            "a gap in the current file: {ticks:?}"
        );
        c.delete_pod("ticker", Some(1)).await;
        c.wait_gone("ticker", Duration::from_secs(15)).await;
        // The pod's logs went with it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while dir.exists() {
            assert!(Instant::now() < deadline, "{} still there", dir.display());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

fn last_tick(text: &str) -> u32 {
    text.lines()
        .last()
        .and_then(|l| l.strip_prefix("tick ")?.parse().ok())
        .unwrap_or(0)
}
