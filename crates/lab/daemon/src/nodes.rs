//! The node side of the lab: per node, once the controllers gave it a pod CIDR, its CNI
//! network configuration and its two supervised processes (`podnet agent` and the lab's
//! kubelet) inside the node's namespace; and the external host's servers (HTTP, and DNS for
//! the test zone).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use podnet_lab_config::{Cluster, RoutingMode};
use podnet_lab_controllers::CancellationToken;
use podnet_lab_topology::{EXTERNAL_IP, NodePlan, Plan};

use crate::error::DaemonError;
use crate::external_dns;
use crate::router;
use crate::state::{Component, LabDir, write_atomic};
use crate::supervise::{Spec, supervise};

/// The plugins a node's conflist names that podnet ships, found next to `podnet`.
const PODNET_PLUGINS: &[&str] = &["podnet-cni", "podnet-ipam"];
/// Where Debian's reference plugins (portmap) live.
const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// What every node process needs to know.
#[derive(Clone, Debug)]
pub struct NodeSide {
    pub lab: LabDir,
    pub plan: Plan,
    pub cluster: Cluster,
    /// The `podnet` binary the node processes run.
    pub exe: PathBuf,
}

/// Runs the node side until `stop`: every supervised process is stopped on the way out.
pub async fn run(side: NodeSide, client: kube::Client, stop: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for node in side.plan.nodes.clone() {
        tasks.spawn(run_node(side.clone(), node, client.clone(), stop.clone()));
    }
    let router = side.plan.router.as_ref();
    let router = router.map(|r| router::spec(&side.lab, r));
    for spec in [external_http(&side), external_dns(&side)]
        .into_iter()
        .chain(router)
    {
        tasks.spawn(supervise(side.lab.clone(), spec, stop.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

/// Links the podnet CNI plugins into the lab's plugin directory and writes the nodes'
/// resolv.conf, before any node starts.
pub fn prepare(side: &NodeSide) -> Result<(), DaemonError> {
    let bin = side.lab.cni_bin_dir();
    std::fs::create_dir_all(&bin).map_err(DaemonError::io(&bin))?;
    let dir = side.exe.parent().unwrap_or(Path::new("."));
    for plugin in PODNET_PLUGINS {
        let target = dir.join(plugin);
        if !target.is_file() {
            // Built by `cargo build` next to podnet itself.
            return Err(DaemonError::MissingBinary {
                path: target,
                package: "podnet (cargo build --release builds every binary)",
            });
        }
        let link = bin.join(plugin);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).map_err(DaemonError::io(&link))?;
    }
    // The nodes' resolver is the outside world's, as a real node's is its network's.
    let resolv = format!("nameserver {EXTERNAL_IP}\n");
    write_atomic(&side.lab.node_resolv_conf(), resolv.as_bytes())?;
    router::prepare(&side.lab, &side.plan, &side.cluster)?;
    external_dns::prepare(&side.lab)
}

async fn run_node(side: NodeSide, node: NodePlan, client: kube::Client, stop: CancellationToken) {
    let Some(pod_cidr) = wait_pod_cidr(&client, &node.name, &stop).await else {
        return;
    };
    if !side.cluster.networking.disable_default_cni
        && let Err(error) = write_conflist(&side, &node, &pod_cidr)
    {
        tracing::error!(node = %node.name, %error, "cannot write the node's CNI config");
        return;
    }
    let netns = podnet_netns::path_of(&node.netns);
    let agent = Spec {
        component: Component::new(&node.name, "agent"),
        netns: netns.clone(),
        program: side.exe.clone(),
        args: agent_args(&side, &node),
    };
    let kubelet = Spec {
        component: Component::new(&node.name, "kubelet"),
        netns,
        program: side.exe.clone(),
        args: kubelet_args(&side, &node),
    };
    tokio::join!(
        supervise(side.lab.clone(), agent, stop.clone()),
        supervise(side.lab.clone(), kubelet, stop.clone()),
    );
}

/// Until the node IPAM controller has given `node` its pod CIDR (`None`: stopped first).
async fn wait_pod_cidr(
    client: &kube::Client,
    node: &str,
    stop: &CancellationToken,
) -> Option<String> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    loop {
        match api.get_opt(node).await {
            Ok(Some(n)) => {
                if let Some(cidr) = n.spec.and_then(|s| s.pod_cidr) {
                    return Some(cidr);
                }
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(node, %error, "node not readable yet"),
        }
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// The node's CNI network (podnet's conflist, as `podnet cni install` writes it on a real
/// node). The pods' MTU leaves room for the overlay's headers in vxlan mode, as flannel's
/// subnet file tells its CNI config.
fn write_conflist(side: &NodeSide, node: &NodePlan, pod_cidr: &str) -> Result<(), DaemonError> {
    let dir = side.lab.node_dir(&node.name);
    let mtu = match side.cluster.networking.routing_mode {
        RoutingMode::Vxlan => 1450,
        RoutingMode::HostGw | RoutingMode::Bgp => 1500,
    };
    let conflist = podnet_cni_runtime::podnet_network(pod_cidr, mtu, Some(&dir.join("ipam")));
    let conf_dir = dir.join("cni");
    std::fs::create_dir_all(&conf_dir).map_err(DaemonError::io(&conf_dir))?;
    let text = serde_json::to_string_pretty(&conflist).expect("JSON");
    write_atomic(
        &conf_dir.join(podnet_cni_runtime::PODNET_CONFLIST),
        text.as_bytes(),
    )
}

fn agent_args(side: &NodeSide, node: &NodePlan) -> Vec<OsString> {
    let net = &side.cluster.networking;
    let cluster_cidr = net
        .pod_subnets
        .iter()
        .find(|c| c.addr().is_ipv4())
        .map_or_else(|| "10.244.0.0/16".to_owned(), ToString::to_string);
    let mut args: Vec<OsString> = vec!["agent".into(), "--node".into(), node.name.clone().into()];
    args.push("--kubeconfig".into());
    args.push(side.lab.component_kubeconfig("agent").into());
    args.extend(["--routing".into(), net.routing_mode.to_string().into()]);
    args.extend(["--cluster-cidr".into(), cluster_cidr.into()]);
    if let (Some(bgp), Some(router)) = (&net.bgp, &side.plan.router) {
        args.extend(["--bgp-peer".into(), router.ip.to_string().into()]);
        args.extend(["--bgp-peer-asn".into(), bgp.router_asn.to_string().into()]);
        args.extend(["--bgp-asn".into(), bgp.node_asn.to_string().into()]);
        let hold = router::HOLD_TIME_SECS.to_string();
        args.extend(["--bgp-hold-time".into(), hold.into()]);
    }
    // kube-proxy's job, in the mode the kind config names (kubeProxyMode).
    args.extend([
        "--proxy-mode".into(),
        net.kube_proxy_mode.to_string().into(),
    ]);
    args
}

fn kubelet_args(side: &NodeSide, node: &NodePlan) -> Vec<OsString> {
    let dir = side.lab.node_dir(&node.name);
    let mut args: Vec<OsString> = vec!["lab".into(), "kubelet".into()];
    let mut flag = |name: &str, value: OsString| {
        args.push(format!("--{name}").into());
        args.push(value);
    };
    flag("node", node.name.clone().into());
    flag("node-ip", node.ip.to_string().into());
    flag(
        "kubeconfig",
        side.lab
            .component_kubeconfig(&format!("kubelet-{}", node.name))
            .into(),
    );
    flag("root-dir", dir.join("kubelet").into());
    flag("cni-conf-dir", dir.join("cni").into());
    flag("cni-bin-dir", side.lab.cni_bin_dir().into());
    flag("cni-bin-dir", REFERENCE_PLUGINS.into());
    flag(
        "netns-prefix",
        side.plan.pod_netns_prefix(&node.name).into(),
    );
    flag("cluster-dns", cluster_dns(&side.cluster).into());
    flag("resolv-conf", side.lab.node_resolv_conf().into());
    args
}

/// The kube-dns Service's address: the tenth of the service range, as kind sets it.
pub fn cluster_dns(cluster: &Cluster) -> String {
    cluster
        .networking
        .service_subnets
        .first()
        .and_then(|net| net.hosts().nth(9))
        .map_or_else(|| "10.96.0.10".to_owned(), |ip| ip.to_string())
}

fn external_dns(side: &NodeSide) -> Spec {
    Spec {
        component: Component::new("external", "dns"),
        netns: podnet_netns::path_of(&side.plan.external),
        program: external_dns::KNOTD.into(),
        args: external_dns::args(&side.lab),
    }
}

/// The external host's HTTP server: agnhost netexec on port 80 (/clientip shows who came).
fn external_http(side: &NodeSide) -> Spec {
    Spec {
        component: Component::new("external", "http"),
        netns: podnet_netns::path_of(&side.plan.external),
        program: side.exe.clone(),
        args: ["workload", "netexec", "--http-port=80", "--udp-port=-1"]
            .map(OsString::from)
            .to_vec(),
    }
}
