//! podnet-cni chained with the reference meta-plugins, through the runtime library exactly as
//! the kubelet drives it: examples/cni/10-podnet.conflist (podnet-cni + podnet-ipam →
//! portmap → bandwidth) attaches a pod, a hostPort reaches a TCP server in the pod from
//! another host and from the node itself, traffic shaping is installed, and DEL removes all
//! of it.
//!
//! Topology, every piece in namespaces of the test's own:
//!
//! ```text
//!   client ── 198.51.100.2/30 ─veth─ 198.51.100.1/30 ── node ── bridge ── pod (10.244.0.x:80)
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use podnet_base::IfName;
use podnet_cni_runtime::{CniConfig, NetworkList, RuntimeConf};
use podnet_test_util::Netns;
use serde_json::{Value, json};

const NODE_ADDR: &str = "198.51.100.1";
const HOST_PORT: u16 = 18080;
const GREETING: &str = "hello from the pod";

/// The node, an outside client wired to it, and the runtime set up with podnet's plugins
/// (symlinked from the build) ahead of Debian's reference plugins.
struct Setup {
    node: Netns,
    client: Netns,
    tmp: tempfile::TempDir,
    cni: CniConfig,
}

impl Setup {
    fn new(tag: &str) -> Self {
        let node = Netns::new(&format!("{tag}-n"));
        let client = Netns::new(&format!("{tag}-c"));
        node.veth("up0", &client, "up1");
        node.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{NODE_ADDR}/30"),
            "dev",
            "up0",
        ]);
        client.exec(&["ip", "addr", "add", "198.51.100.2/30", "dev", "up1"]);

        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for (name, exe) in [
            ("podnet-cni", env!("CARGO_BIN_EXE_podnet-cni")),
            ("podnet-ipam", env!("CARGO_BIN_EXE_podnet-ipam")),
        ] {
            std::os::unix::fs::symlink(exe, bin.join(name)).unwrap();
        }
        let cni = CniConfig::new(vec![bin, PathBuf::from("/usr/lib/cni")])
            .with_cache_dir(tmp.path().join("cache"));
        Self {
            node,
            client,
            tmp,
            cni,
        }
    }

    /// The example conflist as a user gets it, with the IPAM state moved into the test's
    /// temp dir.
    fn example_list(&self) -> NetworkList {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cni/10-podnet.conflist");
        let mut doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["plugins"][0]["ipam"]["dataDir"] = json!(self.tmp.path().join("ipam"));
        NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap()
    }

    fn in_node<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        podnet_netns::run_in(self.node.path(), work).unwrap()
    }

    fn nat_rules(&self) -> String {
        self.node.exec(&["iptables-save", "-t", "nat"])
    }

    fn qdiscs(&self) -> String {
        self.node.exec(&["tc", "qdisc", "show"])
    }
}

/// Serves `GREETING` to `connections` clients on port 80 inside the pod; returns once it
/// listens.
fn serve_in_pod(pod: &Netns, connections: usize) -> std::thread::JoinHandle<()> {
    let path = pod.path().to_owned();
    let (ready, listening) = mpsc::channel();
    let server = std::thread::spawn(move || {
        podnet_netns::run_in(&path, move || {
            let listener = TcpListener::bind("0.0.0.0:80").unwrap();
            ready.send(()).unwrap();
            for _ in 0..connections {
                let (mut conn, _) = listener.accept().unwrap();
                conn.write_all(GREETING.as_bytes()).unwrap();
            }
        })
        .unwrap()
    });
    listening.recv_timeout(Duration::from_secs(5)).unwrap();
    server
}

/// Connects to the hostPort from inside `ns` and reads what the server says.
fn fetch_from(ns: &Path) -> std::io::Result<String> {
    podnet_netns::run_in(ns, || {
        let addr: SocketAddr = format!("{NODE_ADDR}:{HOST_PORT}").parse().unwrap();
        let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        conn.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut got = String::new();
        conn.read_to_string(&mut got)?;
        Ok(got)
    })
    .unwrap()
}

#[test]
fn podnet_chain_host_port_and_shaping_work_and_del_removes_them() {
    let s = Setup::new("chain");
    let list = s.example_list();
    let pod = Netns::new("chain-pod");
    let caps = json!({
        "portMappings": [{"hostPort": HOST_PORT, "containerPort": 80, "protocol": "tcp"}],
        "bandwidth": {"ingressRate": 8000000, "ingressBurst": 80000, "egressRate": 8000000, "egressBurst": 80000},
    });
    let rt = RuntimeConf::new(
        "c-chain",
        Some(pod.path().to_owned()),
        IfName::new("eth0").unwrap(),
    )
    .with_capability_args(caps.as_object().cloned().unwrap());

    let result = s.in_node(|| s.cni.add_network_list(&list, &rt)).unwrap();
    let pod_ip = result.ips[0].address.addr().to_string();
    assert!(pod_ip.starts_with("10.244.0."), "{pod_ip}");

    // hostPort: from another host (PREROUTING) and from the node itself (OUTPUT).
    let server = serve_in_pod(&pod, 2);
    assert_eq!(fetch_from(s.client.path()).unwrap(), GREETING);
    assert_eq!(fetch_from(s.node.path()).unwrap(), GREETING);
    server.join().unwrap();
    assert!(s.nat_rules().contains(&HOST_PORT.to_string()));

    // Shaping: a tbf on the host veth (ingress) and on bandwidth's ifb device (egress).
    let qdiscs = s.qdiscs();
    let tbf: Vec<&str> = qdiscs
        .lines()
        .filter(|l| l.starts_with("qdisc tbf"))
        .collect();
    assert_eq!(tbf.len(), 2, "{qdiscs}");
    assert!(tbf.iter().all(|l| l.contains("rate 8Mbit")), "{qdiscs}");
    assert!(
        tbf.iter().any(|l| l.contains("dev bwp")),
        "an ifb for egress: {qdiscs}"
    );

    s.in_node(|| s.cni.del_network_list(&list, &rt)).unwrap();
    assert!(
        !s.nat_rules().contains(&HOST_PORT.to_string()),
        "{}",
        s.nat_rules()
    );
    let qdiscs = s.qdiscs();
    assert!(!qdiscs.contains("tbf"), "{qdiscs}");
    assert!(!s.node.exec(&["ip", "-o", "link"]).contains("bwp"));
    assert!(
        fetch_from(s.client.path()).is_err(),
        "the hostPort is closed"
    );
    let (ok, _, _) = pod.try_exec(&["ip", "link", "show", "eth0"]);
    assert!(!ok, "eth0 is gone from the pod");
    assert!(s.cni.cached_attachment(&list, &rt).unwrap().is_none());
}

#[test]
fn podnet_chain_validates_and_gc_collects_a_stale_pod() {
    let s = Setup::new("chgc");
    let list = s.example_list();
    let caps = s.in_node(|| s.cni.validate_network_list(&list)).unwrap();
    assert_eq!(caps, ["bandwidth", "portMappings"]);

    let pod = Netns::new("chgc-pod");
    let rt = RuntimeConf::new(
        "c-gc",
        Some(pod.path().to_owned()),
        IfName::new("eth0").unwrap(),
    );
    s.in_node(|| s.cni.add_network_list(&list, &rt)).unwrap();
    s.in_node(|| s.cni.gc_network_list(&list, &[])).unwrap();
    let (ok, _, _) = pod.try_exec(&["ip", "link", "show", "eth0"]);
    assert!(!ok, "GC's synthesized DEL removed the stale pod's eth0");
    // The address is released: no lease file (named after the address) is left.
    let leases: Vec<String> = std::fs::read_dir(s.tmp.path().join("ipam").join("podnet"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !leases.iter().any(|f| f.parse::<std::net::IpAddr>().is_ok()),
        "{leases:?}"
    );
    assert!(s.cni.cached_attachments(None).unwrap().is_empty());
}

#[test]
fn podnet_plugins_alone_speak_1_1_0_status_and_gc() {
    let s = Setup::new("ch11");
    // The example's first plugin on its own: podnet-cni and podnet-ipam speak 1.1.0.
    let example = s.example_list();
    let doc = json!({
        "cniVersion": "1.1.0",
        "name": "podnet",
        "plugins": [example.conf.plugins[0]],
    });
    let list = NetworkList::from_bytes(&serde_json::to_vec(&doc).unwrap()).unwrap();
    s.in_node(|| s.cni.status_network_list(&list)).unwrap();

    let pod = Netns::new("ch11-pod");
    let rt = RuntimeConf::new(
        "c-11",
        Some(pod.path().to_owned()),
        IfName::new("eth0").unwrap(),
    );
    let result = s.in_node(|| s.cni.add_network_list(&list, &rt)).unwrap();
    assert_eq!(
        s.cni
            .cached_attachment(&list, &rt)
            .unwrap()
            .unwrap()
            .result
            .unwrap()["cniVersion"],
        "1.1.0"
    );
    s.in_node(|| s.cni.check_network_list(&list, &rt)).unwrap();

    // GC keeping the pod: the plugins see it listed as valid and leave it alone.
    let keep = [podnet_cni_spec::ValidAttachment {
        container_id: "c-11".into(),
        ifname: "eth0".into(),
    }];
    s.in_node(|| s.cni.gc_network_list(&list, &keep)).unwrap();
    let (ok, out, _) = pod.try_exec(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
    assert!(
        ok && out.contains(&result.ips[0].address.to_string()),
        "{out}"
    );

    s.in_node(|| s.cni.gc_network_list(&list, &[])).unwrap();
    let (ok, _, _) = pod.try_exec(&["ip", "link", "show", "eth0"]);
    assert!(!ok, "GC removed the pod's eth0");
    assert!(s.cni.cached_attachments(None).unwrap().is_empty());
}
