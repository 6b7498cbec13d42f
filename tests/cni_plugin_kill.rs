//! podnet-cni killed with SIGKILL in the middle of ADD — at random moments across the whole
//! call, so between IPAM's allocation (podnet-ipam runs beside the veth setup and outlives
//! its killed parent) and the veth setup too — then the runtime's next calls: a DEL of the
//! failed ADD (what containerd and CRI-O do), or nothing at all (a runtime that crashed too),
//! and at the end a GC listing the attachments that exist. After them: no address leaked or
//! held twice, no host veth or pod interface of a failed ADD left, no ipMasq element of one
//! in podnet's table, and every completed ADD untouched.

#[path = "cni_bridge/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use harness::{BRIDGE, Node, PODNET_IPAM, bridge_ports, link};
use podnet_cni_plugin::names::host_veth_name;
use podnet_test_util::{Netns, Rng};
use serde_json::{Value, json};

const CNI: &str = "podnet-cni";
const SUBNET: &str = "10.78.1.0/24";
const ROUNDS: usize = 40;

fn conf(node: &Node) -> Value {
    node.conf(
        "1.1.0",
        CNI,
        &[SUBNET],
        json!({"isGateway": true, "ipMasq": true}),
    )
}

/// podnet-ipam processes of this node still running (orphans of a killed plugin finish on
/// their own; their cmdline carries the node's unique plugin dir).
fn ipam_running(node: &Node) -> bool {
    let bin = node.bin.path().to_string_lossy().into_owned();
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        std::fs::read(p.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&bin))
    })
}

/// The addresses in podnet's masquerade set.
fn masq_addresses(node: &Node) -> BTreeSet<IpAddr> {
    let (_, table, _) = node
        .ns
        .try_exec(&["nft", "list", "set", "inet", "podnet-cni", "masq4"]);
    table
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
        .filter_map(|t| t.parse().ok())
        .collect()
}

#[test]
fn kernel_plugin_killed_mid_add_leaves_nothing_after_del_and_gc() {
    let node = Node::new("cni-kill", PODNET_IPAM);
    let conf = conf(&node);
    let mut rng = Rng::new(0x0c41);
    let mut pods: Vec<(String, Netns)> = Vec::new();
    let mut completed: Vec<String> = Vec::new();
    let mut killed = 0;
    // One ADD run to its end tells how long one takes here: the kills land within about
    // that, so most ADDs die at some point of their way and a few complete.
    let mut typical = Duration::from_millis(50);
    for round in 0..ROUNDS {
        let id = format!("c{round}");
        let pod = Netns::new(&format!("cni-kill-{round}"));
        let start = Instant::now();
        let mut child = node.spawn(CNI, "ADD", &id, Some(pod.path()), "eth0", &conf);
        let kill_after = if round == 0 {
            None
        } else {
            Some(typical.mul_f64(rng.below(1300) as f64 / 1000.0))
        };
        if let Some(after) = kill_after {
            std::thread::sleep(after);
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        if round == 0 {
            typical = start.elapsed();
        }
        if out.status.success() {
            completed.push(id.clone());
        } else {
            killed += 1;
            // Half the time the runtime cleans up the failed ADD at once, as containerd does.
            if rng.below(2) == 0 {
                let del = node.call(CNI, "DEL", &id, Some(pod.path()), "eth0", &conf);
                assert!(del.ok, "DEL {id}: {:?} {}", del.json, del.stderr);
                assert!(
                    link(&node.ns, &host_veth_name(&id, "eth0")).is_none(),
                    "{id}"
                );
                assert!(link(&pod, "eth0").is_none(), "{id}: the pod's end is gone");
            }
        }
        pods.push((id, pod));
    }
    assert!(
        killed > ROUNDS / 4,
        "most ADDs were killed ({killed} of {ROUNDS})"
    );
    assert!(!completed.is_empty(), "some ADDs completed");

    // IPAM calls orphaned by a kill finish by themselves; then the runtime's GC.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ipam_running(&node) {
        assert!(
            Instant::now() < deadline,
            "orphaned podnet-ipam calls never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = completed
        .iter()
        .map(|id| json!({"containerID": id, "ifname": "eth0"}))
        .collect();
    let out = node.call(CNI, "GC", "", None, "", &gc);
    assert!(out.ok, "GC: {:?} {}", out.json, out.stderr);

    let mut held = BTreeSet::new();
    for (id, pod) in &pods {
        let addrs = node.allocated_to(id);
        let veth = link(&node.ns, &host_veth_name(id, "eth0"));
        let eth0 = link(pod, "eth0");
        if completed.contains(id) {
            assert_eq!(addrs.len(), 1, "{id} keeps its address: {addrs:?}");
            assert!(held.insert(addrs[0].clone()), "{} held twice", addrs[0]);
            assert!(
                veth.is_some() && eth0.is_some(),
                "{id} keeps its interfaces"
            );
        } else {
            assert!(addrs.is_empty(), "{id}, killed, leaked {addrs:?}");
            assert!(veth.is_none(), "{id}, killed, left its host veth");
            assert!(eth0.is_none(), "{id}, killed, left an interface in its pod");
        }
    }
    assert_eq!(bridge_ports(&node.ns, BRIDGE).len(), completed.len());
    let held: BTreeSet<IpAddr> = held.iter().map(|a| a.parse().unwrap()).collect();
    assert_eq!(
        masq_addresses(&node),
        held,
        "ipMasq elements of the live attachments only"
    );
    eprintln!(
        "{killed} of {ROUNDS} ADDs killed, {} completed; nothing left behind",
        completed.len()
    );
}
