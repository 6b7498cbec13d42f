//! `podnet dns`: the cluster's name server (CoreDNS with the kubernetes plugin, as podnet
//! does it), configured by a Corefile.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use podnet_dns_records::PodMode;
use podnet_dns_server::{Corefile, DEFAULT_COREFILE, Dns, Listeners, objects, watch};
use tokio::sync::mpsc;

#[derive(Debug, Args)]
#[command(
    about = "Run the cluster DNS server (Services, Pods, forwarding, cache) from a Corefile",
    long_about = "Run the cluster DNS server. It answers the cluster zone from Services, \
        EndpointSlices, Namespaces and (pods verified) Pods, watched through the API server, \
        as the Kubernetes DNS-Based Service Discovery specification and CoreDNS's kubernetes \
        plugin define them; forwards every other name to the upstreams of `forward`, through \
        a cache; serves /health, /ready and Prometheus /metrics. It reads a Corefile: from \
        --corefile, else from the Corefile key of ConfigMap kube-system/coredns (changes \
        apply without a restart; a built-in default is used while that ConfigMap is \
        missing). Supported plugins: kubernetes, forward, cache, health, ready, prometheus, \
        errors, log, reload, loop, loadbalance, bind; others are ignored with a warning.",
    after_help = "Example, outside a cluster, with objects from a file:\n\n  \
        cat > Corefile <<'EOF'\n  \
        .:1053 {\n      \
            kubernetes cluster.local in-addr.arpa ip6.arpa {\n          \
                pods insecure\n          \
                fallthrough in-addr.arpa ip6.arpa\n      \
            }\n      \
            forward . 8.8.8.8\n      \
            cache 30\n      \
            health 127.0.0.1:8080\n      \
            ready 127.0.0.1:8181\n      \
            prometheus 127.0.0.1:9153\n  \
        }\n  \
        EOF\n  \
        podnet dns --corefile Corefile --objects services.yaml\n  \
        dig @127.0.0.1 -p 1053 my-svc.default.svc.cluster.local\n\n\
        In a cluster: podnet dns --kubeconfig /path/to/kubeconfig (or in-cluster credentials)\n\
        reads ConfigMap kube-system/coredns. Logs go to stderr (RUST_LOG=info shows each\n\
        reload and watch; the `log` plugin logs every query)."
)]
pub struct DnsCommand {
    /// Corefile to read (and re-read, with the `reload` plugin); without it, the ConfigMap.
    #[arg(long, value_name = "FILE")]
    pub corefile: Option<PathBuf>,
    /// The ConfigMap holding the Corefile (key `Corefile`), as NAMESPACE/NAME.
    #[arg(long, default_value = "kube-system/coredns", value_name = "NS/NAME")]
    pub configmap: String,
    /// Kubeconfig to reach the API server; without it, the kubernetes plugin's `kubeconfig`
    /// option, else in-cluster config or $KUBECONFIG.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Take Services, EndpointSlices, Namespaces and Pods from this YAML file instead of
    /// watching an API server.
    #[arg(long, value_name = "FILE")]
    pub objects: Option<PathBuf>,
    /// The port of server blocks that name none (CoreDNS's -dns.port).
    #[arg(long, default_value_t = 53)]
    pub port: u16,
    /// UDP worker threads (sockets sharing the port); default: one per CPU.
    #[arg(long, value_name = "N")]
    pub udp_workers: Option<usize>,
}

pub fn run(cmd: DnsCommand) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.min(2))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(serve(cmd, cpus))
}

async fn serve(cmd: DnsCommand, cpus: usize) -> anyhow::Result<()> {
    let (ns, name) = cmd
        .configmap
        .split_once('/')
        .context("--configmap: want NAMESPACE/NAME")?;
    let (reload_tx, reload_rx) = mpsc::channel(4);
    let mut client = None;
    let text = match &cmd.corefile {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => {
            let c = watch::client(cmd.kubeconfig.as_deref(), None).await?;
            let text = match watch::corefile_now(c.clone(), ns, name).await? {
                Some(t) => t,
                None => {
                    tracing::warn!(configmap = %cmd.configmap, "no Corefile there yet; using the built-in default until one appears");
                    DEFAULT_COREFILE.to_owned()
                }
            };
            client = Some(c);
            text
        }
    };
    let cf = Corefile::parse(&text, cmd.port).with_context(|| match &cmd.corefile {
        Some(p) => p.display().to_string(),
        None => format!("ConfigMap {}", cmd.configmap),
    })?;
    let listeners = Listeners::bind(&cf, cmd.udp_workers.unwrap_or(cpus))?;
    let dns = Dns::new(cf.clone());
    let shared = dns.shared();
    if let Some(path) = &cmd.objects {
        let mut n = 0;
        let mut result = Ok(());
        shared.update_catalog(|c| match objects::load(path, c) {
            Ok(k) => n = k,
            Err(e) => result = Err(e),
        });
        result?;
        tracing::info!(objects = n, file = %path.display(), "objects loaded");
    } else if let Some(k) = cf.kubernetes() {
        let c = match (&client, &cmd.kubeconfig, &k.kubeconfig) {
            (Some(c), _, _) => c.clone(),
            (None, None, Some((path, ctx))) => watch::client(Some(path), ctx.as_deref()).await?,
            (None, path, _) => watch::client(path.as_deref(), None).await?,
        };
        client.get_or_insert(c.clone());
        let verified = k.zone.pods == PodMode::Verified;
        tokio::spawn(watch::objects(c, shared.clone(), verified));
    }
    match (&cmd.corefile, client) {
        (Some(path), _) => {
            let every = cf.servers.iter().find_map(|s| s.reload);
            if let Some(every) = every {
                tokio::spawn(poll_file(path.clone(), text, every, reload_tx));
            }
        }
        (None, Some(c)) => {
            let (ns, name) = (ns.to_owned(), name.to_owned());
            tokio::spawn(async move { watch::corefile(c, &ns, &name, reload_tx).await });
        }
        (None, None) => {}
    }
    dns.run(listeners, reload_rx, shutdown_signal()).await?;
    Ok(())
}

/// The `reload` plugin for a Corefile on disk: re-read it every `every`, send it when changed.
async fn poll_file(path: PathBuf, mut last: String, every: Duration, tx: mpsc::Sender<String>) {
    loop {
        tokio::time::sleep(every).await;
        match tokio::fs::read_to_string(&path).await {
            Ok(text) if text != last => {
                last = text.clone();
                if tx.send(text).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot re-read the Corefile")
            }
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "cannot listen for signals; running until killed");
            std::future::pending().await
        }
    }
}
