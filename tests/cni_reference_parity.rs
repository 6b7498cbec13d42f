//! Parity with the reference: the same ADD given to podnet-cni and to Debian's
//! /usr/lib/cni/bridge (both with host-local, cniVersion 1.0.0), each in a "node" namespace
//! of its own, leaves the same observable state — addresses, routes, bridge membership,
//! hairpin, MTU, promiscuity, forwarding — names aside.

#[path = "cni_bridge/harness.rs"]
mod harness;

use harness::{BRIDGE, HOST_LOCAL, Node, addresses, bridge_ports, link, routes};
use podnet_test_util::Netns;
use serde_json::{Value, json};

/// Everything a pod, its node and a runtime can observe of one attachment, names aside.
#[derive(Debug, PartialEq)]
struct Observed {
    result_ips: Value,
    result_routes: Value,
    pod_addresses: Vec<String>,
    pod_routes: Vec<String>,
    pod_mtu: Value,
    bridge_addresses: Vec<String>,
    bridge_mtu: Value,
    bridge_promisc: Value,
    ports: usize,
    port_mtu: Value,
    port_hairpin: Value,
    forwarding: (String, String),
}

fn observe(node: &Node, pod: &Netns, result: &Value) -> Observed {
    let ports = bridge_ports(&node.ns, BRIDGE);
    let port = &ports[0];
    let bridge = link(&node.ns, BRIDGE).unwrap();
    Observed {
        result_ips: result["ips"].clone(),
        result_routes: result["routes"].clone(),
        pod_addresses: addresses(pod, "eth0"),
        pod_routes: routes(pod),
        pod_mtu: link(pod, "eth0").unwrap()["mtu"].clone(),
        bridge_addresses: addresses(&node.ns, BRIDGE),
        bridge_mtu: bridge["mtu"].clone(),
        bridge_promisc: bridge["promiscuity"].clone(),
        ports: ports.len(),
        port_mtu: port["mtu"].clone(),
        port_hairpin: port["linkinfo"]["info_slave_data"]["hairpin"].clone(),
        forwarding: (
            node.sysctl("net.ipv4.ip_forward"),
            node.sysctl("net.ipv6.conf.all.forwarding"),
        ),
    }
}

fn add_on_fresh_node(plugin: &str, tag: &str, extra: Value, subnets: &[&str]) -> Observed {
    let node = Node::new(tag, HOST_LOCAL);
    let pod = Netns::new(&format!("{tag}-pod"));
    let conf = node.conf("1.0.0", plugin, subnets, extra);
    let out = node.call(plugin, "ADD", "parity1", Some(pod.path()), "eth0", &conf);
    assert!(out.ok, "{plugin} ADD: {:?} {}", out.json, out.stderr);
    let seen = observe(&node, &pod, &out.json);
    let del = node.call(plugin, "DEL", "parity1", Some(pod.path()), "eth0", &conf);
    assert!(del.ok, "{plugin} DEL: {:?}", del.json);
    assert!(
        link(&pod, "eth0").is_none(),
        "{plugin} DEL removes the pod end"
    );
    seen
}

fn assert_parity(extra: Value, subnets: &[&str]) {
    let ours = add_on_fresh_node("podnet-cni", "par-ours", extra.clone(), subnets);
    let reference = add_on_fresh_node("bridge", "par-ref", extra, subnets);
    assert_eq!(ours, reference);
}

#[test]
fn kernel_parity_default_gateway_hairpin_mtu_ipv4() {
    assert_parity(
        json!({"isDefaultGateway": true, "hairpinMode": true, "mtu": 1400}),
        &["10.88.0.0/24"],
    );
}

#[test]
fn kernel_parity_promiscuous_bridge() {
    assert_parity(
        json!({"isDefaultGateway": true, "promiscMode": true}),
        &["10.88.0.0/24"],
    );
}

#[test]
fn kernel_parity_dual_stack_default_gateway() {
    assert_parity(
        json!({"isDefaultGateway": true, "mtu": 1450}),
        &["10.88.0.0/24", "fd88::/64"],
    );
}

#[test]
fn kernel_parity_gateway_without_default_route() {
    assert_parity(json!({"isGateway": true}), &["10.88.0.0/24"]);
}

#[test]
fn kernel_parity_plain_l2_bridge() {
    assert_parity(json!({}), &["10.88.0.0/24"]);
}
