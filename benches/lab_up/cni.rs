//! The reference point under the lab: the same pods made by the CNI runtime alone. Two node
//! namespaces (the lab's two workers) with the lab's own node conflist (podnet-cni on cni0,
//! MTU 1450 as in vxlan mode, then portmap); for every pod, all at once, a sandbox netns is
//! created and `podnet cni add` attaches it, as the kubelet does before it starts containers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use podnet_test_util::Netns;
use serde_json::json;

const PODNET: &str = env!("CARGO_BIN_EXE_podnet");

struct Node {
    ns: Netns,
    dir: tempfile::TempDir,
}

/// One pod attached by hand; DEL is sent and its netns removed on drop.
struct Pod<'a> {
    node: &'a Node,
    ns: Netns,
}

/// Per pod: sandbox netns created and ADD returned, all pods started at once; then the
/// wall clock of the whole batch.
pub fn round(pods: usize) -> Result<(Vec<Duration>, Duration), String> {
    let nodes = [Node::new(1), Node::new(2)];
    let start = Instant::now();
    let results: Vec<Result<(Pod, Duration), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..pods)
            .map(|i| {
                let node = &nodes[i % nodes.len()];
                s.spawn(move || {
                    let t0 = Instant::now();
                    let pod = Pod::add(node)?;
                    Ok((pod, t0.elapsed()))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed();
    let mut latencies = vec![];
    let mut attached = vec![];
    for r in results {
        let (pod, took) = r?;
        latencies.push(took);
        attached.push(pod);
    }
    drop(attached);
    Ok((latencies, wall))
}

// === impl Node ===

impl Node {
    fn new(i: u8) -> Self {
        let ns = Netns::new(&format!("bench-cni{i}"));
        let dir = tempfile::tempdir().unwrap();
        let conf_dir = dir.path().join("net.d");
        std::fs::create_dir(&conf_dir).unwrap();
        let conflist = json!({
            "cniVersion": "1.0.0",
            "name": "podnet",
            "plugins": [
                {"type": "podnet-cni", "bridge": "cni0", "isGateway": true, "ipMasq": false,
                 "hairpinMode": true, "mtu": 1450,
                 "ipam": {"type": "podnet-ipam", "dataDir": dir.path().join("ipam"),
                          "ranges": [[{"subnet": format!("10.244.{i}.0/24")}]],
                          "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
            ]
        });
        std::fs::write(
            conf_dir.join("10-podnet.conflist"),
            serde_json::to_vec_pretty(&conflist).unwrap(),
        )
        .unwrap();
        Node { ns, dir }
    }

    /// `podnet cni VERB podnet NETNS` inside the node's namespace.
    fn cni(&self, verb: &str, pod: &Path) -> Result<(), String> {
        let plugins = Path::new(env!("CARGO_BIN_EXE_podnet-cni"))
            .parent()
            .unwrap();
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                self.ns.name(),
                PODNET,
                "cni",
                verb,
                "podnet",
            ])
            .arg(pod)
            .arg("--conf-dir")
            .arg(self.dir.path().join("net.d"))
            .arg("--cni-path")
            .arg(format!("{}:/usr/lib/cni", plugins.display()))
            .arg("--cache-dir")
            .arg(self.cache_dir())
            .output()
            .map_err(|e| format!("running podnet cni {verb}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "podnet cni {verb} {}: {}",
                pod.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

// === impl Pod ===

impl<'a> Pod<'a> {
    fn add(node: &'a Node) -> Result<Self, String> {
        let pod = Pod {
            node,
            ns: Netns::new("bench-sbx"),
        };
        node.cni("add", pod.ns.path())?;
        Ok(pod)
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.node.cni("del", self.ns.path()) {
            eprintln!("warning: {e}");
        }
    }
}
