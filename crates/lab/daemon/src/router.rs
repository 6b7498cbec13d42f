//! The lab's BGP router, in labs whose kind config asks for one (`networking.bgp`, or
//! `routingMode: bgp`): BIRD 2 (Debian's `bird2`) in the `router` namespace at
//! 172.18.0.254, one passive eBGP session per node, and what it learns installed in its
//! own kernel table — the route the outside world's traffic to LoadBalancer addresses and
//! pod CIDRs takes (the fabric routes both through the router).
//!
//! Look at it with `ip netns exec podnet.LAB.router birdc -s <lab dir>/router/bird.ctl show
//! route` (`podnet lab logs router/bird` for its log).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net};
use podnet_lab_config::{Bgp, Cluster, RoutingMode};
use podnet_lab_topology::{NODE_NETWORK, Plan, RouterPlan};

use crate::error::DaemonError;
use crate::state::{Component, LabDir, write_atomic};
use crate::supervise::Spec;

/// BIRD's daemon (Debian package `bird2`, with its client `birdc`).
pub const BIRD: &str = "/usr/sbin/bird";
/// The hold time the router offers the nodes (the session uses the lower of the two
/// sides'): a node that goes silent without closing its session — cut off, frozen — has
/// its routes withdrawn after this long. 3 s is RFC 4271's smallest; the lab's sessions run
/// over veths on one machine, where a keepalive a second is never lost. A node whose agent
/// stops or dies closes its TCP connection and is withdrawn at once, whatever this is.
pub const HOLD_TIME_SECS: u16 = 3;

/// The node network's top /24, where the lab's LoadBalancer pool lives (172.18.255.200–
/// 172.18.255.250): the fabric sends it to the router, which knows from BGP which nodes
/// announce each address.
const LOAD_BALANCER_PREFIX: Ipv4Net = Ipv4Net::new_assert(Ipv4Addr::new(172, 18, 255, 0), 24);

/// What the fabric routes through the router: the LoadBalancer addresses, and in
/// `routingMode: bgp` the cluster's pod CIDR (every node's pod CIDR is announced).
pub fn routed(cluster: &Cluster) -> Vec<Ipv4Net> {
    let mut routed = vec![LOAD_BALANCER_PREFIX];
    if cluster.networking.routing_mode == RoutingMode::Bgp {
        routed.extend(
            cluster
                .networking
                .pod_subnets
                .iter()
                .filter_map(|s| match s {
                    IpNet::V4(v4) => Some(*v4),
                    IpNet::V6(_) => None,
                }),
        );
    }
    routed
}

/// The supervised process's name (`podnet lab logs router/bird`).
pub fn component() -> Component {
    Component::new("router", "bird")
}

/// Writes BIRD's config into the lab's state directory; refuses to go on without BIRD,
/// naming the package.
pub fn prepare(lab: &LabDir, plan: &Plan, cluster: &Cluster) -> Result<(), DaemonError> {
    let (Some(router), Some(bgp)) = (&plan.router, &cluster.networking.bgp) else {
        return Ok(());
    };
    if !std::path::Path::new(BIRD).is_file() {
        return Err(DaemonError::MissingBinary {
            path: BIRD.into(),
            package: "bird2",
        });
    }
    let dir = dir(lab);
    std::fs::create_dir_all(&dir).map_err(DaemonError::io(&dir))?;
    let text = config(router, bgp, plan, &cluster.networking.pod_subnets);
    write_atomic(&config_path(lab), text.as_bytes())
}

/// BIRD in the router's namespace, in the foreground (the daemon supervises it by pid).
pub fn spec(lab: &LabDir, router: &RouterPlan) -> Spec {
    Spec {
        component: component(),
        netns: podnet_netns::path_of(&router.netns),
        program: BIRD.into(),
        args: vec![
            "-f".into(),
            "-c".into(),
            config_path(lab).into(),
            "-s".into(),
            control_socket(lab).into(),
        ],
    }
}

fn dir(lab: &LabDir) -> PathBuf {
    lab.path.join("router")
}

fn config_path(lab: &LabDir) -> PathBuf {
    dir(lab).join("bird.conf")
}

/// BIRD's control socket.
pub fn control_socket(lab: &LabDir) -> PathBuf {
    dir(lab).join("bird.ctl")
}

/// The router's config: one passive session per node (the agents connect), accepting only
/// what a node may announce — LoadBalancer /32s on the node network and pod CIDRs inside the
/// cluster's — and exporting nothing back (the nodes send cross-node pod traffic to the
/// router; they need no routes from it). Paths to one prefix from several nodes (a
/// LoadBalancer address with endpoints on several nodes) are installed as one ECMP route.
fn config(router: &RouterPlan, bgp: &Bgp, plan: &Plan, pod_subnets: &[IpNet]) -> String {
    let mut accepted = vec![format!("{NODE_NETWORK}{{32,32}}")];
    for subnet in pod_subnets.iter().filter(|s| s.addr().is_ipv4()) {
        accepted.push(format!("{subnet}{{{},32}}", subnet.prefix_len()));
    }
    let mut out = format!(
        "# Written by the podnet lab daemon: the lab's BGP router.\n\
         router id {ip};\n\
         log stderr all;\n\n\
         protocol device {{}}\n\n\
         protocol kernel {{\n\
         \x20   ipv4 {{ import none; export all; }};\n\
         \x20   merge paths on;\n\
         }}\n\n\
         filter from_nodes {{\n\
         \x20   if net ~ [ {accepted} ] then accept;\n\
         \x20   reject;\n\
         }}\n\n\
         template bgp node {{\n\
         \x20   local {ip} as {router_asn};\n\
         \x20   passive on;\n\
         \x20   hold time {HOLD_TIME_SECS};\n\
         \x20   keepalive time 1;\n\
         \x20   ipv4 {{ import filter from_nodes; export none; }};\n\
         }}\n",
        ip = router.ip,
        router_asn = bgp.router_asn,
        accepted = accepted.join(", "),
    );
    for (i, node) in plan.nodes.iter().enumerate() {
        // Protocol names are BIRD symbols (no dashes): node<i>, as the fabric's ports.
        let _ = write!(
            out,
            "\nprotocol bgp node{i} from node {{\n\
             \x20   description \"{name}\";\n\
             \x20   neighbor {ip} as {asn};\n\
             }}\n",
            name = node.name,
            ip = node.ip,
            asn = bgp.node_asn,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> (Plan, Bgp) {
        let names = ["kind-control-plane".to_owned(), "kind-worker".to_owned()];
        let plan = Plan::new("kind", &names)
            .unwrap()
            .with_router(vec!["172.18.255.0/24".parse().unwrap()]);
        (plan, Bgp::default())
    }

    #[test]
    fn one_passive_session_per_node_and_an_import_filter() {
        let (plan, bgp) = lab();
        let text = config(
            plan.router.as_ref().unwrap(),
            &bgp,
            &plan,
            &["10.244.0.0/16".parse().unwrap()],
        );
        assert!(text.contains("local 172.18.0.254 as 64512;"), "{text}");
        assert!(text.contains("neighbor 172.18.0.2 as 64513;"), "{text}");
        assert!(text.contains("neighbor 172.18.0.3 as 64513;"), "{text}");
        assert!(text.contains("description \"kind-worker\";"), "{text}");
        assert!(
            text.contains("[ 172.18.0.0/16{32,32}, 10.244.0.0/16{16,32} ]"),
            "{text}"
        );
    }

    /// BIRD itself parses what the lab writes (`bird -p`: parse the config and exit).
    #[test]
    fn bird_accepts_the_config() {
        let (plan, bgp) = lab();
        let text = config(
            plan.router.as_ref().unwrap(),
            &bgp,
            &plan,
            &["10.244.0.0/16".parse().unwrap()],
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bird.conf");
        std::fs::write(&path, text).unwrap();
        let out = std::process::Command::new(BIRD)
            .arg("-p")
            .arg("-c")
            .arg(&path)
            .output()
            .expect("bird2 is installed (scripts/install-deps.sh)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
