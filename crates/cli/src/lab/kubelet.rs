//! `podnet lab kubelet --node NAME --node-ip IP`: the lab's kubelet for one node, in the
//! foreground. It must be started inside the node's network namespace (the lab does that):
//! pods are wired to that namespace's bridge by CNI, and hostNetwork pods share it.
//! SIGTERM or SIGINT stop it; its pods keep running and the next kubelet adopts them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use podnet_lab_kubelet::KubeletConfig;
use podnet_lab_kubelet::logs::LogRotation;
use tokio::signal::unix::{SignalKind, signal};

/// Run the lab's kubelet for one node (`lab up` starts one inside each node's namespace)
#[derive(Debug, Args)]
#[command(
    after_help = "Example (what `lab up` runs, inside the node's netns):\n  \
    ip netns exec podnet.kind.kind-worker podnet lab kubelet --node kind-worker \\\n    \
    --node-ip 172.18.0.3 --kubeconfig /var/lib/podnet/labs/kind/kubeconfig.in-lab \\\n    \
    --root-dir /var/lib/podnet/labs/kind/nodes/kind-worker/kubelet\n\n\
    Container logs (CRI format): ROOT_DIR/logs/<namespace>_<pod>_<uid>/<container>/<restarts>.log \
    (`podnet lab logs POD` reads them)."
)]
pub struct KubeletArgs {
    /// The Node this kubelet runs pods for
    #[arg(long)]
    node: String,
    /// The node's InternalIP (pods' hostIP; the podIP of hostNetwork pods)
    #[arg(long)]
    node_ip: IpAddr,
    /// kubeconfig of the API server [default: inferred, as kubectl does]
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Pod records, generated files and container logs (the kubelet's --root-dir)
    #[arg(long)]
    root_dir: PathBuf,
    /// Directory holding the node's CNI network configuration (the first list is used)
    #[arg(long, default_value = "/etc/cni/net.d")]
    cni_conf_dir: PathBuf,
    /// Directories searched for CNI plugins, in order (repeat the flag)
    #[arg(long = "cni-bin-dir", default_values = ["/opt/cni/bin", "/usr/lib/cni"])]
    cni_bin_dirs: Vec<PathBuf>,
    /// CNI result cache [default: ROOT_DIR/cni-cache]
    #[arg(long)]
    cni_cache_dir: Option<PathBuf>,
    /// Prefix of the pods' pinned network namespaces in /run/netns
    #[arg(long, default_value = "podnet-pod-")]
    netns_prefix: String,
    /// nameserver of ClusterFirst pods (the kube-dns Service)
    #[arg(long, default_value = "10.96.0.10")]
    cluster_dns: IpAddr,
    #[arg(long, default_value = "cluster.local")]
    cluster_domain: String,
    /// The resolv.conf given to dnsPolicy Default pods (the node's resolver)
    #[arg(long, default_value = "/etc/resolv.conf")]
    resolv_conf: PathBuf,
    /// Rotate a container's log before it grows past this size (10Mi, 500Ki, 1048576)
    #[arg(long, default_value = "10Mi", value_parser = parse_size)]
    container_log_max_size: u64,
    /// Log files kept per container instance, the current one included
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(2..))]
    container_log_max_files: u64,
}

pub fn run(args: KubeletArgs) -> anyhow::Result<()> {
    let mut config = KubeletConfig::new(&args.node, args.node_ip, &args.root_dir);
    config.cni_conf_dir = args.cni_conf_dir;
    config.cni_bin_path = args.cni_bin_dirs;
    if let Some(dir) = args.cni_cache_dir {
        config.cni_cache_dir = dir;
    }
    config.netns_prefix = args.netns_prefix;
    config.cluster_dns = args.cluster_dns;
    config.cluster_domain = args.cluster_domain;
    config.node_resolv_conf = args.resolv_conf;
    config.log_rotation = LogRotation {
        max_size: args.container_log_max_size,
        max_files: args.container_log_max_files as usize,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = client(args.kubeconfig.as_deref()).await?;
        // Signals are taken by tokio's handler, never blocked: a blocked mask would be
        // inherited by every container the kubelet starts, and SIGTERM would not stop them.
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        podnet_lab_kubelet::run(client, config, async move {
            let which = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = which, "stopping");
        })
        .await
        .with_context(|| format!("kubelet of node {}", args.node))
    })
}

async fn client(kubeconfig: Option<&Path>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("finding a kubeconfig")?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}

/// A byte size as the kubelet's flags take it: a plain number or a binary (Ki, Mi, Gi) or
/// decimal (k, M, G) quantity suffix.
fn parse_size(s: &str) -> Result<u64, String> {
    let units: [(&str, u64); 6] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    let (digits, unit) = units
        .iter()
        .find_map(|(suffix, unit)| Some((s.strip_suffix(suffix)?, *unit)))
        .unwrap_or((s, 1));
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("invalid size {s:?} (e.g. 10Mi, 500Ki, 1048576)"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_quantity_suffixes() {
        assert_eq!(parse_size("10Mi"), Ok(10 << 20));
        assert_eq!(parse_size("500Ki"), Ok(500 << 10));
        assert_eq!(parse_size("2k"), Ok(2000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("10MB").is_err());
    }
}
