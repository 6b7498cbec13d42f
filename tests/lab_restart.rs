//! kill -9 of the real daemon, then `podnet lab up` again: every object is back, on the same
//! address, resourceVersions keep increasing, and a kube-rs watcher started before the kill
//! relists and goes on.

#[path = "lab/support.rs"]
mod support;

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use support::{Lab, alive, kill9};

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn kill_9_then_up_restores_every_object_and_watchers_go_on() {
    let lab = Lab::up("restart", &["-f", "examples/lab/web.yaml"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(lab.client(), "default");
        let before = api
            .create(&PostParams::default(), &config_map("before"))
            .await
            .unwrap();

        // The watcher sees `before` in its initial list, then every change, across the kill.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let wapi = api.clone();
        let watching = tokio::spawn(async move {
            let stream = watcher(wapi, watcher::Config::default())
                .default_backoff()
                .applied_objects();
            futures::pin_mut!(stream);
            while let Some(item) = stream.next().await {
                if let Ok(cm) = item {
                    let _ = tx.send(cm);
                }
            }
        });
        let seen = next_named(&mut rx, "before").await;
        assert_eq!(rv(&seen), rv(&before));

        let addr = lab.address();
        let pid = lab.daemon_pid();
        kill9(pid);
        assert!(!alive(pid));
        let status = lab.ok(&["status"]);
        assert!(status.contains("not running"), "{status}");

        let out = lab.podnet(&["up"]);
        assert!(out.status.success(), "{}", support::show(&out));
        assert_ne!(lab.daemon_pid(), pid);
        assert_eq!(
            lab.address(),
            addr,
            "the restarted daemon keeps its address"
        );

        let kept = api.get("before").await.unwrap();
        assert_eq!(rv(&kept), rv(&before));
        assert_eq!(
            lab.ok(&["get", "deploy", "-o", "name"]),
            "deployment.apps/web\n",
            "the deployment survived"
        );
        assert_eq!(
            lab.ok(&["get", "svc", "web", "-o", "name"]),
            "service/web\n"
        );

        let after = api
            .create(&PostParams::default(), &config_map("after"))
            .await
            .unwrap();
        assert!(
            rv(&after) > rv(&before),
            "{} then {}",
            rv(&before),
            rv(&after)
        );
        let seen = next_named(&mut rx, "after").await;
        assert_eq!(rv(&seen), rv(&after));
        watching.abort();
    });
}

/// The next object named `name` the watcher delivers (others are skipped).
async fn next_named(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<ConfigMap>,
    name: &str,
) -> ConfigMap {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let cm = rx.recv().await.expect("the watcher ended");
            if cm.metadata.name.as_deref() == Some(name) {
                return cm;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the watcher never delivered {name}"))
}
