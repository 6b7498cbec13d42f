//! `podnet kubelet --node NAME --node-ip IP`: the lab's kubelet for one node, in the
//! foreground. It must be started inside the node's network namespace (the lab does that):
//! pods are wired to that namespace's bridge by CNI, and hostNetwork pods share it.
//! SIGTERM or SIGINT stop it; its pods keep running and the next kubelet adopts them.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};
use nix::sys::signal::{SigSet, Signal};
use podnet_lab_kubelet::KubeletConfig;

/// Run the lab's kubelet for one node (inside the node's network namespace)
#[derive(Debug, Args)]
#[command(after_help = "Example (inside the node's netns):\n  \
    ip netns exec lab-node-1 podnet kubelet --node node-1 --node-ip 172.18.0.3 \\\n    \
    --kubeconfig /var/lib/podnet/labs/kind/kubeconfig --state-dir /var/lib/podnet/labs/kind/node-1\n\n\
    Container logs: STATE_DIR/logs/<namespace>_<pod>_<uid>/<container>.log.")]
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
    /// Pod records, generated files and container logs
    #[arg(long)]
    state_dir: PathBuf,
    /// Directory holding the node's CNI network configuration (the first list is used)
    #[arg(long, default_value = "/etc/cni/net.d")]
    cni_conf_dir: PathBuf,
    /// Directories searched for CNI plugins, in order (repeat the flag)
    #[arg(long = "cni-bin-dir", default_values = ["/opt/cni/bin", "/usr/lib/cni"])]
    cni_bin_dirs: Vec<PathBuf>,
    /// CNI result cache [default: STATE_DIR/cni-cache]
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
}

pub fn run(args: KubeletArgs) -> anyhow::Result<()> {
    // Blocked before any thread starts, so that only the waiting thread below receives them.
    let stop_signals = SigSet::from_iter([Signal::SIGTERM, Signal::SIGINT]);
    stop_signals
        .thread_block()
        .context("blocking SIGTERM and SIGINT")?;
    let mut config = KubeletConfig::new(&args.node, args.node_ip, &args.state_dir);
    config.cni_conf_dir = args.cni_conf_dir;
    config.cni_bin_path = args.cni_bin_dirs;
    if let Some(dir) = args.cni_cache_dir {
        config.cni_cache_dir = dir;
    }
    config.netns_prefix = args.netns_prefix;
    config.cluster_dns = args.cluster_dns;
    config.cluster_domain = args.cluster_domain;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let client = client(args.kubeconfig.as_deref()).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let signal = stop_signals.wait();
            tracing::info!(?signal, "stopping");
            let _ = stop.send(());
        });
        podnet_lab_kubelet::run(client, config, async {
            let _ = stopped.await;
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
