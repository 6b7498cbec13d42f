//! What the suites that run the real `podnet agent` in a node namespace share: the agent
//! process (its log in a file), the kubeconfig pointing it at the in-process API server on
//! the node's loopback, and waiting for a condition with a generous deadline.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use podnet_test_util::Netns;
use serde_json::json;

pub const API: &str = "127.0.0.1:6443";

pub struct Agent {
    pub child: Child,
    log: std::path::PathBuf,
}

impl Agent {
    pub fn start(ns: &Netns, dir: &Path, mode: &str) -> Self {
        let log = dir.join(format!("agent-{mode}.log"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(env!("CARGO_BIN_EXE_podnet"))
            .args(["agent", "--node", "node-1", "--kubeconfig"])
            .arg(dir.join("kubeconfig"))
            .args([
                "--routing",
                "host-gw",
                "--resync",
                "2",
                "--proxy-mode",
                mode,
            ])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Agent { child, log }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) -> std::process::ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("agent did not stop on SIGTERM:\n{}", self.log());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn write_kubeconfig(dir: &Path) {
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "t", "cluster": {"server": format!("http://{API}")}}],
        "users": [{"name": "t", "user": {}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
        "current-context": "t",
    });
    std::fs::write(dir.join("kubeconfig"), config.to_string()).unwrap();
}

pub async fn eventually(what: &str, agent: &Agent, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}\nagent log:\n{}", agent.log());
}

pub fn kube_proxy_table(ns: &Netns) -> String {
    ns.try_exec(&["nft", "list", "table", "ip", "kube-proxy"]).1
}
