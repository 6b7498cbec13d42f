//! `podnet cni install`: what the agent DaemonSet's init container does on every node (as
//! flannel's and Calico's install-cni do): the CNI plugins shipped beside `podnet` copied
//! into the host's plugin directory, and the node's conflist — its Node's pod CIDR, the MTU
//! of its uplink — written into the host's config directory. Both are replaced atomically
//! (written beside, then renamed), so a runtime never runs a half-written plugin.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Node;

/// The plugins podnet ships, built next to `podnet` (and in its image, beside it).
const PLUGINS: &[&str] = &["podnet-cni", "podnet-ipam"];
/// What VXLAN's outer headers take from the uplink's MTU (IPv4: 20 + 8 + 8 + 14).
const VXLAN_OVERHEAD: u32 = 50;

/// Install the CNI plugins and this node's conflist into the host's CNI directories
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet cni install --node node-1 --bin-dir /opt/cni/bin --conf-dir /etc/cni/net.d\n  \
    podnet cni install --node node-1 --mtu 1400 --routing host-gw --kubeconfig ~/.kube/config\n\n\
    The agent DaemonSet (deploy/podnet-agent.yaml) runs it as its init container, with the \
    host's directories mounted under /host and its options from the podnet-config ConfigMap.")]
pub struct InstallArgs {
    /// This node's name (its Node object: the pod CIDR and the InternalIP come from it)
    #[arg(long, env = "NODE_NAME")]
    node: String,
    /// Kubeconfig to reach the API server; without it, in-cluster config or $KUBECONFIG
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Where the host's container runtime looks for plugins
    #[arg(long, default_value = "/opt/cni/bin", value_name = "DIR")]
    bin_dir: PathBuf,
    /// Where the host's container runtime reads network configs
    #[arg(long, default_value = "/etc/cni/net.d", value_name = "DIR")]
    conf_dir: PathBuf,
    /// The pods' MTU: auto (the uplink's, less VXLAN's headers with --routing vxlan) or a
    /// number
    #[arg(long, env = "PODNET_MTU", default_value = "auto")]
    mtu: String,
    /// The agent's routing mode (vxlan needs room for its headers)
    #[arg(long, env = "PODNET_ROUTING", default_value = "vxlan")]
    routing: String,
}

pub fn run(args: InstallArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(install(args))
}

async fn install(args: InstallArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the podnet binary")?;
    let from = exe.parent().unwrap_or(Path::new("."));
    for plugin in PLUGINS {
        let source = from.join(plugin);
        let target = args.bin_dir.join(plugin);
        replace_file(&source, &target, 0o755)
            .with_context(|| format!("installing {} as {}", source.display(), target.display()))?;
        println!("installed {}", target.display());
    }
    let client = podnet_agent_app::client(args.kubeconfig.as_deref()).await?;
    let (pod_cidr, internal_ip) = wait_for_pod_cidr(&client, &args.node).await?;
    let mtu = match args.mtu.as_str() {
        "auto" => uplink_mtu(internal_ip).await? - overhead(&args.routing),
        n => n
            .parse()
            .with_context(|| format!("--mtu: {n:?} is neither auto nor a number"))?,
    };
    let conflist = podnet_cni_runtime::podnet_network(&pod_cidr, mtu, None);
    let target = args.conf_dir.join(podnet_cni_runtime::PODNET_CONFLIST);
    let text = serde_json::to_string_pretty(&conflist)?;
    write_replacing(&target, text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", target.display()))?;
    println!(
        "wrote {} (pod CIDR {pod_cidr}, MTU {mtu})",
        target.display()
    );
    Ok(())
}

fn overhead(routing: &str) -> u32 {
    if routing == "vxlan" {
        VXLAN_OVERHEAD
    } else {
        0
    }
}

/// The Node's pod CIDR (given by the node IPAM controller, maybe after the node joined)
/// and its InternalIP.
async fn wait_for_pod_cidr(client: &kube::Client, node: &str) -> anyhow::Result<(String, IpAddr)> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    loop {
        let n = api
            .get(node)
            .await
            .with_context(|| format!("reading Node {node:?}"))?;
        let cidr = n.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        let ip = n
            .status
            .as_ref()
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
            .and_then(|a| a.address.parse().ok());
        match (cidr, ip) {
            (Some(cidr), Some(ip)) => return Ok((cidr, ip)),
            _ => tracing::info!(node, "waiting for the Node's spec.podCIDR and InternalIP"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The MTU of the interface holding `ip` in this network namespace (the host's, in the
/// DaemonSet).
async fn uplink_mtu(ip: IpAddr) -> anyhow::Result<u32> {
    let netlink = podnet_netlink::Netlink::open(None)?;
    let Some(address) = netlink
        .addresses(None)
        .await?
        .into_iter()
        .find(|a| a.addr.addr() == ip)
    else {
        bail!("no interface holds the node's InternalIP {ip}: give --mtu");
    };
    let links = netlink.links().await?;
    let link = links
        .iter()
        .find(|l| l.index == address.index)
        .with_context(|| format!("the interface of {ip} disappeared"))?;
    Ok(link.mtu)
}

fn replace_file(source: &Path, target: &Path, mode: u32) -> anyhow::Result<()> {
    let bytes = std::fs::read(source).with_context(|| format!("reading {}", source.display()))?;
    write_replacing(target, &bytes, mode)
}

/// Writes `bytes` beside `target`, then renames over it: a reader sees the old file or the
/// new one, never a part (a running plugin keeps its old inode).
fn write_replacing(target: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = target.parent().context("a target in a directory")?;
    std::fs::create_dir_all(dir)?;
    let name = target.file_name().context("a file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.podnet-tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    std::fs::rename(&tmp, target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_gets_its_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bin/podnet-cni");
        write_replacing(&target, b"old", 0o755).unwrap();
        write_replacing(&target, b"new", 0o755).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let names: Vec<_> = std::fs::read_dir(dir.path().join("bin"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["podnet-cni"]);
    }

    #[test]
    fn only_vxlan_takes_room_from_the_mtu() {
        assert_eq!(overhead("vxlan"), 50);
        assert_eq!(overhead("host-gw"), 0);
        assert_eq!(overhead("bgp"), 0);
    }
}
