//! A node with pods and an outside client, every piece in a namespace of its own:
//!
//! ```text
//!  client 172.18.0.10 ──veth── 172.18.0.2 node ── cbr0 10.244.1.1/24 ──┬── pod-1 10.244.1.2
//!  (outside the cluster;          (the proxy's netns;                   ├── pod-2 10.244.1.3
//!   routes 10.96/16, 10.244/16,    br_netfilter on and hairpin          └── pod-3 10.244.1.4
//!   203.0.113/24 via the node)     ports, as on a Kubernetes node)
//! ```
//!
//! Each pod runs the built-in agnhost netexec (HTTP on 8080, UDP on 8081) under its own
//! hostname `pod-N`, in-process: on a thread that entered the pod's network namespace and a
//! UTS namespace of its own.

use std::net::IpAddr;
use std::time::Duration;

use crate::Netns;

pub const NODE_IP: &str = "172.18.0.2";
pub const CLIENT_IP: &str = "172.18.0.10";
pub const GATEWAY: &str = "10.244.1.1";
pub const POD_PORT: u16 = 8080;

pub struct Topology {
    pub node: Netns,
    pub client: Netns,
    pub pods: Vec<Netns>,
}

// === impl Topology ===

impl Topology {
    /// The node, the client and `pods` pods (at most 250), each serving netexec.
    pub fn new(tag: &str, pods: usize) -> Self {
        let node = Netns::new(&format!("{tag}-n"));
        let client = Netns::new(&format!("{tag}-c"));
        // The client is also the node's default gateway (below), so traffic the node forwards
        // back out where it came from would draw ICMP redirects, and those eat the per-peer
        // ICMP budget the REJECT of a Service without endpoints needs. A node is not a
        // router for its neighbours: no redirects (set before any link, which inherits it).
        for scope in ["all", "default"] {
            node.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv4.conf.{scope}.send_redirects=0"),
            ]);
        }
        node.exec(&["ip", "link", "add", "cbr0", "type", "bridge"]);
        node.exec(&["ip", "addr", "add", &format!("{GATEWAY}/24"), "dev", "cbr0"]);
        node.exec(&["ip", "link", "set", "cbr0", "up"]);
        node.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        // Pod → Service → pod on the same bridge needs the bridged reply to see conntrack.
        node.exec(&["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"]);

        node.veth("eth-client", &client, "eth0");
        node.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{NODE_IP}/24"),
            "dev",
            "eth-client",
        ]);
        client.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{CLIENT_IP}/24"),
            "dev",
            "eth0",
        ]);
        // The client is also the node's way out (its default gateway), as the node network's
        // router would be.
        node.exec(&["ip", "route", "add", "default", "via", CLIENT_IP]);
        for net in [
            "10.96.0.0/16",
            "10.244.0.0/16",
            "203.0.113.0/24",
            "172.18.255.0/24",
        ] {
            client.exec(&["ip", "route", "add", net, "via", NODE_IP]);
        }

        let mut all = Vec::new();
        for i in 1..=pods {
            let pod = Netns::new(&format!("{tag}-p{i}"));
            let host_side = format!("veth-p{i}");
            node.veth(&host_side, &pod, "eth0");
            node.exec(&["ip", "link", "set", &host_side, "master", "cbr0"]);
            // As the CNI's `hairpinMode`: with br_netfilter, a pod's packet DNATed back to
            // the same pod is bridged out of the port it came in on.
            node.exec(&[
                "ip",
                "link",
                "set",
                &host_side,
                "type",
                "bridge_slave",
                "hairpin",
                "on",
            ]);
            pod.exec(&[
                "ip",
                "addr",
                "add",
                &format!("{}/24", pod_ip(i)),
                "dev",
                "eth0",
            ]);
            pod.exec(&["ip", "route", "add", "default", "via", GATEWAY]);
            serve_netexec(&pod, &format!("pod-{i}"));
            all.push(pod);
        }
        let topo = Self {
            node,
            client,
            pods: all,
        };
        for i in 1..=pods {
            topo.wait_serving(i);
        }
        topo
    }

    /// `curl` from `ns` with a short timeout: `Ok(body)` or `Err((exit code, stderr))`.
    pub fn curl(ns: &Netns, url: &str) -> Result<String, (i32, String)> {
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                "curl",
                "-sS",
                "--max-time",
                "3",
                url,
            ])
            .output()
            .expect("running curl");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err((
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            ))
        }
    }

    fn wait_serving(&self, i: usize) {
        let url = format!("http://{}:{POD_PORT}/hostname", pod_ip(i));
        for _ in 0..100 {
            if Self::curl(&self.node, &url).is_ok_and(|h| h == format!("pod-{i}")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("netexec in pod-{i} does not answer on {url}");
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Stop the in-process servers; their threads end with them.
        for i in 1..=self.pods.len() {
            let _ = Self::curl(
                &self.node,
                &format!("http://{}:{POD_PORT}/shutdown", pod_ip(i)),
            );
        }
    }
}

/// The address of pod `i` (1-based).
pub fn pod_ip(i: usize) -> IpAddr {
    format!("10.244.1.{}", i + 1).parse().expect("pod address")
}

/// netexec inside `pod`, answering `/hostname` with `hostname`.
fn serve_netexec(pod: &Netns, hostname: &str) {
    let path = pod.path().to_owned();
    let hostname = hostname.to_owned();
    std::thread::spawn(move || {
        let served = podnet_netns::run_in(&path, move || {
            // The UTS namespace, like the network one, belongs to this thread (and the
            // runtime's threads it starts): each pod gets its own hostname.
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUTS).expect("unshare uts");
            nix::unistd::sethostname(&hostname).expect("sethostname");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(podnet_lab_workloads::netexec::run(
                podnet_lab_workloads::netexec::Config {
                    http_ports: vec![POD_PORT],
                    udp: vec![(None, POD_PORT + 1)],
                    http_override: None,
                    delay_shutdown: Duration::ZERO,
                    ready_without_udp: true,
                },
            ))
        });
        if let Ok(Err(e)) = served {
            eprintln!("netexec: {e}");
        }
    });
}
