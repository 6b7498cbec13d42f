//! A three-node cluster in namespaces, as the lab lays it out (DESIGN.md): a `fabric`
//! namespace with the node network's bridge (172.18.0.1/16) that also routes to an
//! `external` host (203.0.113.10); node *i* at 172.18.0.(i+1) on `eth0`, with one pod
//! attached by podnet-cni from pod CIDR 10.244.*i*.0/24. Routing is not set up here: that
//! is what the tests do. Everything is removed on drop.

#![allow(dead_code)] // each suite uses its own part

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use podnet_agent_routing::Mode;
use podnet_k8s_model::{NodeIp, NodeRoute};
use podnet_test_util::Netns;
use serde_json::{Value, json};

pub const EXTERNAL_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
pub const CLUSTER_CIDR: &str = "10.244.0.0/16";

pub struct Node {
    pub name: String,
    pub ip: Ipv4Addr,
    pub ns: Netns,
    pub pod: Netns,
    pub pod_ip: Ipv4Addr,
    pub cidr: String,
    _ipam: tempfile::TempDir,
}

pub struct Cluster {
    pub fabric: Netns,
    pub external: Netns,
    pub nodes: Vec<Node>,
    _bin: tempfile::TempDir,
}

impl Cluster {
    /// Fabric, external host, `n` nodes with a pod each. The pods' MTU leaves room for the
    /// overlay's headers in vxlan mode, as flannel's subnet file tells its CNI config.
    pub fn new(tag: &str, n: u8, mode: Mode) -> Self {
        let fabric = Netns::new(&format!("{tag}-fab"));
        fabric.exec(&["ip", "link", "add", "br0", "type", "bridge"]);
        fabric.exec(&["ip", "addr", "add", "172.18.0.1/16", "dev", "br0"]);
        fabric.exec(&["ip", "link", "set", "br0", "up"]);
        fabric.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

        let external = Netns::new(&format!("{tag}-ext"));
        fabric.veth("ext0", &external, "eth0");
        fabric.exec(&["ip", "addr", "add", "203.0.113.1/24", "dev", "ext0"]);
        external.exec(&["ip", "addr", "add", "203.0.113.10/24", "dev", "eth0"]);
        // The outside world knows the node network (through the fabric) but not the pods:
        // a pod packet only comes back if it was masqueraded to its node's address.
        external.exec(&["ip", "route", "add", "default", "via", "203.0.113.1"]);

        let bin = tempfile::tempdir().unwrap();
        for (name, target) in [
            ("podnet-cni", env!("CARGO_BIN_EXE_podnet-cni")),
            ("podnet-ipam", env!("CARGO_BIN_EXE_podnet-ipam")),
        ] {
            std::os::unix::fs::symlink(target, bin.path().join(name)).unwrap();
        }
        let pod_mtu = match mode {
            Mode::Vxlan => 1450,
            Mode::HostGw | Mode::Bgp { .. } => 1500,
        };
        let nodes = (1..=n)
            .map(|i| Node::new(tag, i, &fabric, bin.path(), pod_mtu))
            .collect();
        Cluster {
            fabric,
            external,
            nodes,
            _bin: bin,
        }
    }

    /// The Node objects, normalised, as the agent's watcher would produce them.
    pub fn node_routes(&self) -> Vec<NodeRoute> {
        self.nodes.iter().map(Node::route).collect()
    }
}

impl Node {
    fn new(tag: &str, i: u8, fabric: &Netns, bin: &Path, mtu: u32) -> Self {
        let ns = Netns::new(&format!("{tag}-n{i}"));
        let ip = Ipv4Addr::new(172, 18, 0, i + 1);
        let port = format!("n{i}");
        fabric.veth(&port, &ns, "eth0");
        fabric.exec(&["ip", "link", "set", &port, "master", "br0"]);
        ns.exec(&["ip", "addr", "add", &format!("{ip}/16"), "dev", "eth0"]);
        ns.exec(&["ip", "route", "add", "default", "via", "172.18.0.1"]);

        let cidr = format!("10.244.{i}.0/24");
        let ipam = tempfile::tempdir().unwrap();
        let pod = Netns::new(&format!("{tag}-p{i}"));
        let conf = json!({
            "cniVersion": "1.0.0", "name": "podnet", "type": "podnet-cni",
            "bridge": "podnet0", "isGateway": true, "ipMasq": false, "mtu": mtu,
            "ipam": {"type": "podnet-ipam", "dataDir": ipam.path(),
                     "ranges": [[{"subnet": cidr}]], "routes": [{"dst": "0.0.0.0/0"}]},
        });
        let result = cni_add(&ns, bin, pod.path(), &conf);
        let pod_ip = result["ips"][0]["address"]
            .as_str()
            .and_then(|a| a.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("ADD result without an address: {result}"));
        Node {
            name: format!("node-{i}"),
            ip,
            ns,
            pod,
            pod_ip,
            cidr,
            _ipam: ipam,
        }
    }

    pub fn route(&self) -> NodeRoute {
        NodeRoute {
            name: self.name.clone(),
            node_ip: Some(NodeIp(self.ip.into())),
            pod_cidrs: vec![self.cidr.parse().unwrap()],
        }
    }
}

fn cni_add(node: &Netns, bin: &Path, pod: &Path, conf: &Value) -> Value {
    let mut child = Command::new("ip")
        .args(["netns", "exec", node.name()])
        .arg(bin.join("podnet-cni"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", "ADD")
        .env("CNI_CONTAINERID", "pod")
        .env("CNI_IFNAME", "eth0")
        .env("CNI_NETNS", pod)
        .env("CNI_PATH", bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "CNI ADD failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A TCP server inside `ns` that answers every connection with the client's address as it
/// sees it (what agnhost's /clientip tells), until the test ends.
pub struct ClientIpServer {
    pub addr: SocketAddr,
}

impl ClientIpServer {
    pub fn start(ns: &Netns, ip: Ipv4Addr) -> Self {
        let listener = podnet_netns::run_in(ns.path(), || TcpListener::bind((ip, 0)))
            .unwrap()
            .unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let peer = conn.peer_addr().map(|p| p.ip().to_string());
                let _ = conn.write_all(peer.unwrap_or_default().as_bytes());
            }
        });
        ClientIpServer { addr }
    }
}

/// Connects from inside `from` to `to` and returns the client address the server saw, or
/// the error.
pub fn client_ip(from: &Netns, to: SocketAddr) -> Result<String, String> {
    let stream = podnet_netns::run_in(from.path(), || {
        TcpStream::connect_timeout(&to, Duration::from_secs(3))
    })
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("connect to {to}: {e}"))?;
    let mut stream = stream;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut seen = String::new();
    stream
        .read_to_string(&mut seen)
        .map_err(|e| format!("read from {to}: {e}"))?;
    Ok(seen)
}

/// `ip -j …` in `ns`, parsed.
pub fn ip_json(ns: &Netns, args: &[&str]) -> Value {
    let mut argv = vec!["ip", "-j"];
    argv.extend_from_slice(args);
    let out = ns.exec(&argv);
    if out.trim().is_empty() {
        return json!([]);
    }
    serde_json::from_str(&out).unwrap()
}

/// podnet's routes in `ns` as "dst via gw dev" lines, sorted.
pub fn podnet_routes(ns: &Netns) -> Vec<String> {
    let v = ip_json(ns, &["route", "show", "proto", "112"]);
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let onlink = r["flags"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("onlink")));
            format!(
                "{} via {} dev {}{}",
                r["dst"].as_str().unwrap(),
                r["gateway"].as_str().unwrap_or("-"),
                r["dev"].as_str().unwrap(),
                if onlink { " onlink" } else { "" }
            )
        })
        .collect();
    out.sort();
    out
}

/// Permanent neighbour entries of `dev` as "ip lladdr".
pub fn neighbours(ns: &Netns, dev: &str) -> Vec<String> {
    let v = ip_json(ns, &["neigh", "show", "dev", dev, "nud", "permanent"]);
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {}",
                n["dst"].as_str().unwrap(),
                n["lladdr"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

/// FDB entries of `dev` that point at a remote endpoint, as "mac dst".
pub fn fdb(ns: &Netns, dev: &str) -> Vec<String> {
    let out = ns.exec(&["bridge", "-j", "fdb", "show", "dev", dev]);
    let v: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out }).unwrap();
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["dst"].is_string())
        .map(|e| {
            format!(
                "{} {}",
                e["mac"].as_str().unwrap(),
                e["dst"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}
