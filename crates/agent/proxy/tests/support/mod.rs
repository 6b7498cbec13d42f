//! What the nftables kernel suites share: a proxy engine on the topology's node, writing
//! through the netlink executor as the agent does, and the netexec Services and slices
//! programmed into it.

use std::net::UdpSocket;
use std::time::Duration;

use podnet_agent_proxy::fixture::{self, NODE, endpoint, service, slice};
use podnet_agent_proxy::nftables::NftBackend;
use podnet_agent_proxy::{Engine, NodeInfo, NodePortAddressConfig};
use podnet_conntrack::Conntrack;
use podnet_k8s_model::{EndpointSliceInfo, Protocol, Service, SliceEndpoint};
use podnet_test_util::Netns;
use podnet_test_util::proxy_topology::{CLIENT_IP, NODE_IP, Topology, pod_ip};

pub const CIP: &str = "10.96.0.50";

pub fn node_info() -> NodeInfo {
    NodeInfo {
        node_ips: vec![fixture::ip(NODE_IP)],
        ..fixture::node()
    }
}

pub fn engine(topo: &Topology) -> Engine {
    // A real node has a default route (its uplink); the node's own connections to a
    // ClusterIP need one to get as far as the output hook.
    topo.node
        .exec(&["ip", "route", "replace", "default", "via", CLIENT_IP]);
    let backend = NftBackend::new(
        Some(topo.node.path()),
        node_info(),
        NodePortAddressConfig::Primary,
    );
    Engine::new(
        node_info(),
        Box::new(backend),
        Conntrack::new(Some(topo.node.path())),
    )
}

/// The node's pods `which` (1-based) as ready endpoints on this node.
pub fn pods(which: &[usize]) -> Vec<SliceEndpoint> {
    which
        .iter()
        .map(|i| endpoint(&pod_ip(*i).to_string(), NODE))
        .collect()
}

/// A slice of `svc` with the netexec ports: HTTP `p80` → 8080, UDP `udp` → 8081.
pub fn netexec_slice(svc: &str, eps: Vec<SliceEndpoint>) -> EndpointSliceInfo {
    slice("ns1", svc, 1, eps, |s| {
        s.ports = vec![
            fixture::slice_port("p80", Protocol::Tcp, 8080),
            fixture::slice_port("udp", Protocol::Udp, 8081),
        ];
    })
}

/// A Service with TCP `p80` (80 → 8080) and UDP `udp` (81 → 8081), edited by `f`.
pub fn web(name: &str, cip: &str, f: impl FnOnce(&mut Service)) -> Service {
    service("ns1", name, cip, |s| {
        s.ports.push(fixture::port("udp", Protocol::Udp, 81, None));
        f(s)
    })
}

pub fn program(engine: &mut Engine, svc: Service, eps: Vec<SliceEndpoint>) {
    let name = svc.name.name.clone();
    engine.state_mut().upsert_service(svc);
    engine.state_mut().upsert_slice(netexec_slice(&name, eps));
    engine.sync(false).expect("sync");
}

pub fn hostnames(from: &Netns, url: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| Topology::curl(from, url).unwrap_or_else(|e| panic!("{url}: {e:?}")))
        .collect()
}

/// Sends `hostname` over UDP from a fixed source port of `from` (so every call is the same
/// conntrack flow) and returns the answer.
pub fn udp_hostname(from: &Netns, dst: &str) -> Option<String> {
    let dst = dst.to_owned();
    podnet_netns::run_in(from.path(), move || {
        let sock = UdpSocket::bind("0.0.0.0:40053").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        sock.send_to(b"hostname", &dst).ok()?;
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
    })
    .expect("run in netns")
}
