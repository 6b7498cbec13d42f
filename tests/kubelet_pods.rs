//! The lab's kubelet end to end: pods bound to a node run as real processes in their own
//! namespaces, networked through CNI (podnet-cni + podnet-ipam, then portmap), reported
//! through the lab API server. Each test has its own node netns (API server and kubelet run
//! inside it) and temp dirs; run inside `unshare --net --mount --propagation private`.

#[path = "kubelet/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::*;
use serde_json::json;

#[test]
fn kubelet_netexec_pod_becomes_ready_with_a_node_range_ip_and_answers_its_hostname() {
    let node = &Node::new("kl-ready");
    node.run(|c| async move {
        c.create_pod("web-0", json!({"containers": [netexec(json!({}))]}))
            .await;
        let pod = c.wait_ready("web-0").await;
        let ip = pod_ip(&pod);
        assert!(
            ip.to_string().starts_with("10.244.1."),
            "podIP {ip} outside {POD_SUBNET}"
        );
        let status = pod.status.clone().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(status.host_ip.as_deref(), Some(NODE_IP));
        assert!(status.start_time.is_some());
        for cond in [
            "PodScheduled",
            "Initialized",
            "ContainersReady",
            "Ready",
            "PodReadyToStartContainers",
        ] {
            assert_eq!(condition(&pod, cond).as_deref(), Some("True"), "{cond}");
        }
        let cs = container_status(&pod);
        assert!(cs.ready && cs.started == Some(true) && cs.restart_count == 0);
        assert!(cs.state.unwrap().running.is_some());

        let (ok, body) = curl_from_node(&node.netns, &format!("http://{ip}:8080/hostname"));
        assert!(ok, "curl to the pod failed");
        assert_eq!(body, "web-0");

        // The container's output is kept in its log file.
        let deadline = Instant::now() + Duration::from_secs(5);
        while c.container_log("web-0", "netexec", false).await.is_empty() {
            assert!(Instant::now() < deadline, "nothing logged by web-0");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c.delete_pod("web-0", Some(1)).await;
        c.wait_gone("web-0", Duration::from_secs(15)).await;
    });
}

#[test]
fn kubelet_pod_sees_its_own_resolv_conf_hosts_and_hostname() {
    let node = &Node::new("kl-files");
    node.run(|c| async move {
        c.create_pod(
            "files",
            json!({"hostname": "h1", "subdomain": "sub",
                   "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}],
                   "containers": [netexec(json!({}))]}),
        )
        .await;
        let ip = pod_ip(&c.wait_ready("files").await);
        assert_eq!(
            c.exec_in_pod("files", &["cat", "/etc/resolv.conf"]),
            "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
        );
        let hosts = c.exec_in_pod("files", &["cat", "/etc/hosts"]);
        assert!(hosts.contains("127.0.0.1\tlocalhost\n"), "{hosts}");
        assert!(hosts.contains(&format!("{ip}\th1.sub.default.svc.cluster.local\th1\n")), "{hosts}");
        assert!(hosts.contains("10.1.2.3\tfoo.local\tbar.local\n"), "{hosts}");
        assert_eq!(c.exec_in_pod("files", &["hostname"]).trim(), "h1");
        // The pod's netns holds eth0 with the pod's IP; the node's files are untouched.
        assert!(c.exec_in_pod("files", &["ip", "-o", "addr", "show", "eth0"]).contains(&format!("{ip}/24")));
        assert!(!std::fs::read_to_string("/etc/hosts").unwrap().contains("h1.sub"));
        // The downward API reached the container's environment.
        let (ok, body) = curl_from_node(&node.netns, &format!("http://{ip}:8080/shell?cmd=hostname"));
        assert!(ok && body.contains("h1"), "{body}");
        c.delete_pod("files", Some(1)).await;
        c.wait_gone("files", Duration::from_secs(15)).await;
    });
}

#[test]
fn kubelet_readiness_probe_failing_then_recovering_flips_ready() {
    let node = &Node::new("kl-readiness");
    let flag = node.tmp.path().join("ready-flag");
    let flag_str = flag.display().to_string();
    node.run(|c| async move {
        let probe = json!({"exec": {"command": ["test", "-e", flag_str]}, "periodSeconds": 1, "failureThreshold": 1});
        c.create_pod("rp", json!({"containers": [netexec(json!({"readinessProbe": probe}))]})).await;
        let pod = c
            .wait_pod("rp", "Running and not ready", Duration::from_secs(20), |p| {
                phase(p) == "Running" && container_status(p).state.unwrap().running.is_some()
            })
            .await;
        assert_eq!(condition(&pod, "Ready").as_deref(), Some("False"));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!is_ready(&c.pods().get("rp").await.unwrap()), "ready without the flag");

        std::fs::write(&flag, "").unwrap();
        c.wait_ready("rp").await;
        std::fs::remove_file(&flag).unwrap();
        let pod = c
            .wait_pod("rp", "not Ready again", Duration::from_secs(10), |p| !is_ready(p))
            .await;
        assert_eq!(condition(&pod, "ContainersReady").as_deref(), Some("False"));
        assert_eq!(container_status(&pod).restart_count, 0, "readiness never restarts");
        std::fs::write(&flag, "").unwrap();
        c.wait_ready("rp").await;
        c.delete_pod("rp", Some(1)).await;
        c.wait_gone("rp", Duration::from_secs(15)).await;
    });
}

#[test]
fn kubelet_liveness_failure_restarts_the_container() {
    let node = &Node::new("kl-liveness");
    node.run(|c| async move {
        // netexec answers /echo?code=500 with 500: the liveness probe fails.
        let probe = json!({"httpGet": {"path": "/echo?code=500", "port": "http"},
                           "periodSeconds": 1, "failureThreshold": 2});
        c.create_pod(
            "lp",
            json!({"terminationGracePeriodSeconds": 1,
                   "containers": [netexec(json!({"livenessProbe": probe}))]}),
        )
        .await;
        let pod = c
            .wait_pod("lp", "restartCount >= 1", Duration::from_secs(30), |p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .is_some_and(|cs| cs[0].restart_count >= 1)
            })
            .await;
        let cs = container_status(&pod);
        let last = cs
            .last_state
            .and_then(|s| s.terminated)
            .expect("lastState.terminated after a restart");
        // netexec exits 0 on SIGTERM.
        assert_eq!(last.exit_code, 0, "{last:?}");
        c.delete_pod("lp", Some(1)).await;
        c.wait_gone("lp", Duration::from_secs(15)).await;
    });
}

#[test]
fn kubelet_command_containers_under_never_end_succeeded_or_failed_with_their_exit_code() {
    let node = &Node::new("kl-never");
    node.run(|c| async move {
        c.create_pod("fails", json!({"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo bye; exit 3"]}]})).await;
        c.create_pod("works", json!({"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]})).await;
        let failed = c.wait_pod("fails", "Failed", Duration::from_secs(20), |p| phase(p) == "Failed").await;
        let t = container_status(&failed).state.unwrap().terminated.unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (3, Some("Error")));
        assert_eq!(container_status(&failed).restart_count, 0);
        let done = c.wait_pod("works", "Succeeded", Duration::from_secs(20), |p| phase(p) == "Succeeded").await;
        let t = container_status(&done).state.unwrap().terminated.unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
        assert_eq!(c.container_log("fails", "c", true).await, "bye\n");
        // A finished pod's sandbox is torn down: its address goes back to IPAM.
        let ip = pod_ip(&failed).to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        while node.ipam_reservation(&ip).exists() {
            assert!(Instant::now() < deadline, "address {ip} of a finished pod still reserved");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Finished pods go from the API at once when deleted.
        c.delete_pod("fails", None).await;
        c.wait_gone("fails", Duration::from_secs(5)).await;
    });
}

#[test]
fn kubelet_delete_sends_sigterm_then_releases_netns_veth_and_address_and_removes_the_pod() {
    let node = &Node::new("kl-delete");
    let mark = node.tmp.path().join("got-term");
    let script = format!(
        "trap 'echo term >> {}; exit 0' TERM; while true; do sleep 0.1; done",
        mark.display()
    );
    node.run(|c| async move {
        let pod = c
            .create_pod("del", json!({"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}))
            .await;
        let uid = pod.metadata.uid.unwrap();
        let pod = c.wait_ready("del").await;
        let ip = pod_ip(&pod).to_string();
        let netns = podnet_netns::path_of(&format!("{}{uid}", c.config.netns_prefix));
        assert!(netns.exists(), "pinned netns {}", netns.display());
        assert!(node.ipam_reservation(&ip).exists());
        let veths = node.netns.exec(&["ip", "-o", "link", "show", "master", BRIDGE]);
        assert_eq!(veths.lines().count(), 1, "{veths}");

        // A grace period no test waits out: the pod is gone only because the container
        // obeyed SIGTERM.
        c.delete_pod("del", Some(3600)).await;
        // Terminating until the kubelet confirms with gracePeriodSeconds=0.
        let terminating = c.pods().get("del").await.unwrap();
        assert!(terminating.metadata.deletion_timestamp.is_some());
        c.wait_gone("del", Duration::from_secs(60)).await;
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "term\n");
        assert!(!netns.exists(), "netns still pinned");
        assert!(!node.ipam_reservation(&ip).exists(), "address {ip} still reserved");
        let veths = node.netns.exec(&["ip", "-o", "link", "show", "master", BRIDGE]);
        assert_eq!(veths.trim(), "", "veth left on the bridge");
        assert!(podnet_lab_kubelet::pod_sandbox(&c.config.state_dir, "default", "del").is_none());
    });
}

#[test]
fn kubelet_restart_adopts_the_running_pod_instead_of_starting_it_again() {
    let node = &Node::new("kl-restart");
    node.run(|mut c| async move {
        c.create_pod("keep", json!({"containers": [netexec(json!({}))]}))
            .await;
        let before = c.wait_ready("keep").await;
        let id = container_status(&before).container_id.unwrap();
        c.stop_kubelet().await;
        c.start_kubelet();
        // Give the new kubelet time to list, adopt and post status.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = c.wait_ready("keep").await;
        let cs = container_status(&after);
        assert_eq!(
            cs.container_id.as_deref(),
            Some(id.as_str()),
            "the same process"
        );
        assert_eq!(cs.restart_count, 0);
        assert_eq!(pod_ip(&after), pod_ip(&before));
        let (ok, body) = curl_from_node(
            &node.netns,
            &format!("http://{}:8080/hostname", pod_ip(&after)),
        );
        assert!(ok && body == "keep", "{body}");
        // The adopted pod is still managed: deletion stops it.
        c.delete_pod("keep", Some(2)).await;
        c.wait_gone("keep", Duration::from_secs(15)).await;
        let pid: i32 = id.trim_start_matches("podnet://").parse().unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap()
                    .contains(") Z"),
            "container process {pid} still running"
        );
    });
}
