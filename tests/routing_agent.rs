//! `podnet agent` end to end: the real binary, started inside each node's namespace as the
//! lab starts it, watching the lab's API server (on 172.18.0.1:6443 in the fabric, as in the
//! lab); Node objects created and deleted through kube-rs, the kernel checked to follow.

#[path = "routing/cluster.rs"]
mod cluster;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster::{ClientIpServer, Cluster, client_ip, fdb, neighbours, podnet_routes};
use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use podnet_agent_routing::{Mode, VXLAN_DEVICE};
use podnet_test_util::Netns;
use serde_json::json;

const API: &str = "172.18.0.1:6443";

/// An agent process; killed on drop if the test did not stop it.
struct AgentProcess {
    child: Child,
    log: std::path::PathBuf,
}

impl AgentProcess {
    fn start(node: &cluster::Node, kubeconfig: &Path, mode: Mode, log_dir: &Path) -> Self {
        let log = log_dir.join(format!("{}.log", node.name));
        let child = Command::new("ip")
            .args(["netns", "exec", node.ns.name()])
            .arg(env!("CARGO_BIN_EXE_podnet"))
            .args(["agent", "--node", &node.name, "--kubeconfig"])
            .arg(kubeconfig)
            .args([
                "--routing",
                &mode.to_string(),
                "--cluster-cidr",
                "10.244.0.0/16",
            ])
            .args(["--resync", "1"])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        AgentProcess { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status within `within`.
    fn stop(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        // `ip netns exec` execs the agent: the child's pid is the agent's.
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn node_object(node: &cluster::Node) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": node.name},
        "spec": {"podCIDR": node.cidr, "podCIDRs": [node.cidr]},
    }))
    .unwrap()
}

async fn create_node(api: &Api<Node>, node: &cluster::Node) {
    api.create(&PostParams::default(), &node_object(node))
        .await
        .unwrap();
    // Addresses are status, which a create may not set (the kubelet reports them).
    let status = json!({"status": {"addresses": [
        {"type": "InternalIP", "address": node.ip.to_string()},
        {"type": "Hostname", "address": node.name},
    ]}});
    api.patch_status(&node.name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Polls `check` until it holds (sleeping on the runtime, so the API server keeps serving).
async fn eventually(what: &str, agents: &[AgentProcess], check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs: Vec<String> = agents.iter().map(AgentProcess::log).collect();
    panic!(
        "timed out waiting for: {what}\nagent logs:\n{}",
        logs.join("\n---\n")
    );
}

fn write_kubeconfig(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "lab", "cluster": {"server": format!("http://{API}")}}],
        "users": [{"name": "lab", "user": {}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "lab"}}],
        "current-context": "lab",
    });
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// Runs `body` on a runtime whose thread lives in the fabric namespace, so the API server
/// listens on the fabric's 172.18.0.1 and the test's client reaches it there.
fn in_fabric<F: std::future::Future<Output = ()>>(fabric: &Netns, body: impl FnOnce() -> F + Send) {
    podnet_netns::run_in(fabric.path(), || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(body())
    })
    .unwrap();
}

fn agent_follows_nodes(tag: &str, mode: Mode) {
    let c = Cluster::new(tag, 3, mode);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path());
    let (n1, n2, n3) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    in_fabric(&c.fabric, || async {
        let listener = tokio::net::TcpListener::bind(API).await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = dir.path().join("state");
        let server = tokio::spawn(async move {
            podnet_apiserver::serve(listener, &state, async {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
        let client =
            kube::Client::try_from(kube::Config::new(format!("http://{API}").parse().unwrap()))
                .unwrap();
        let nodes: Api<Node> = Api::all(client);

        let mut agents: Vec<AgentProcess> = c
            .nodes
            .iter()
            .map(|n| AgentProcess::start(n, &kubeconfig, mode, dir.path()))
            .collect();
        // Before its own Node exists, an agent programs nothing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(podnet_routes(&n1.ns).is_empty());

        for n in &c.nodes {
            create_node(&nodes, n).await;
        }
        let want: Vec<String> = match mode {
            Mode::Vxlan => vec![
                "10.244.2.0/24 via 10.244.2.0 dev podnet.1 onlink".into(),
                "10.244.3.0/24 via 10.244.3.0 dev podnet.1 onlink".into(),
            ],
            Mode::HostGw => vec![
                "10.244.2.0/24 via 172.18.0.3 dev eth0".into(),
                "10.244.3.0/24 via 172.18.0.4 dev eth0".into(),
            ],
            Mode::Bgp { .. } => {
                unreachable!("this suite runs vxlan and host-gw; tests/lab_bgp.rs runs bgp")
            }
        };
        eventually("node-1's routes to the other two nodes", &agents, || {
            podnet_routes(&n1.ns) == want
        })
        .await;
        eventually("node-2 and node-3 routed", &agents, || {
            podnet_routes(&n2.ns).len() == 2 && podnet_routes(&n3.ns).len() == 2
        })
        .await;
        let server2 = ClientIpServer::start(&n2.pod, n2.pod_ip);
        assert_eq!(client_ip(&n1.pod, server2.addr), Ok(n1.pod_ip.to_string()));

        // A route deleted by hand comes back with the next resync.
        n1.ns.exec(&["ip", "route", "del", "10.244.2.0/24"]);
        eventually("the deleted route repaired", &agents, || {
            podnet_routes(&n1.ns) == want
        })
        .await;

        nodes
            .delete(&n3.name, &DeleteParams::default())
            .await
            .unwrap();
        eventually("node-3's route gone from node-1", &agents, || {
            podnet_routes(&n1.ns) == want[..1]
        })
        .await;
        if mode == Mode::Vxlan {
            assert_eq!(
                neighbours(&n1.ns, VXLAN_DEVICE),
                ["10.244.2.0 0e:70:ac:12:00:03"]
            );
            assert_eq!(fdb(&n1.ns, VXLAN_DEVICE), ["0e:70:ac:12:00:03 172.18.0.3"]);
        }

        for agent in &mut agents {
            let status = agent.stop(Duration::from_secs(5));
            assert!(
                status.is_some_and(|s| s.success()),
                "SIGTERM must stop the agent cleanly: {status:?}\n{}",
                agent.log()
            );
        }
        assert!(
            agents[0].log().contains("shutting down"),
            "{}",
            agents[0].log()
        );
        let _ = stop_tx.send(());
        server.await.unwrap();
    });
}

#[test]
fn kernel_agent_vxlan_follows_nodes_from_the_api_server() {
    agent_follows_nodes("rt-agvx", Mode::Vxlan);
}

#[test]
fn kernel_agent_host_gw_follows_nodes_from_the_api_server() {
    agent_follows_nodes("rt-aggw", Mode::HostGw);
}
