//! `podnet install` and `podnet uninstall`: podnet into any Kubernetes cluster from the
//! manifests in deploy/ (the same files `kubectl apply -f deploy/` takes, built into the
//! binary), plus the gateway's own manifest and Gateway API's CRDs. Objects go in by
//! server-side apply as field manager `podnet-install`; the rollout is then waited for with
//! progress, as `kubectl rollout status` does.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

mod apply;
mod manifests;
mod rollout;

/// Install podnet into a cluster: the agent DaemonSet, the cluster DNS, the gateway
#[derive(Debug, Args)]
#[command(
    long_about = "Install podnet into the cluster KUBECONFIG points at, by server-side apply \
        of the manifests in deploy/ (podnet-config ConfigMap, podnet-agent DaemonSet with its \
        CNI installer, podnet dns as the coredns Deployment behind kube-dns, the \
        LoadBalancerIPPool CRD), then the gateway (Gateway API CRDs, podnet-gateway). It waits \
        until the DaemonSet and Deployments have rolled out. Running it again with a new \
        build upgrades in place: the DaemonSet rolls node by node (maxUnavailable 1).",
    after_help = "Examples:\n  \
        podnet install --kubeconfig ~/.kube/config\n  \
        podnet install --dry-run                         # the API server validates, nothing changes\n  \
        podnet install --set proxy-mode=iptables --set mtu=1400 --set routing=host-gw\n  \
        podnet install --without-gateway --timeout 10m\n\n\
        Keys for --set: cluster-cidr, routing, proxy-mode, mtu (the podnet-config ConfigMap)."
)]
pub struct InstallCommand {
    /// Kubeconfig of the cluster; without it, $KUBECONFIG or ~/.kube/config
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Ask the API server to validate every object (dryRun=All) and change nothing
    #[arg(long)]
    dry_run: bool,
    /// An option in the podnet-config ConfigMap (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Leave out the gateway (the Ingress/Gateway API controller)
    #[arg(long)]
    without_gateway: bool,
    /// How long to wait for the rollout
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_minutes)]
    timeout: Duration,
}

/// Remove what `podnet install` applied
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet uninstall --kubeconfig ~/.kube/config\n  \
    podnet uninstall --dry-run\n\n\
    This removes podnet's objects, the cluster DNS (coredns, kube-dns) among them: install \
    another DNS afterwards if the cluster keeps running. CRDs stay unless --crds (deleting \
    them deletes every LoadBalancerIPPool and Gateway API object).")]
pub struct UninstallCommand {
    /// Kubeconfig of the cluster; without it, $KUBECONFIG or ~/.kube/config
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Show what would be deleted (dryRun=All), change nothing
    #[arg(long)]
    dry_run: bool,
    /// Delete the CustomResourceDefinitions too
    #[arg(long)]
    crds: bool,
}

/// `5m`, `90s`, `1h`.
fn parse_minutes(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 5m"))?;
    match unit {
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?}: the unit must be s, m or h")),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

pub fn install(cmd: InstallCommand) -> anyhow::Result<()> {
    let objects = manifests::objects(&cmd.set, !cmd.without_gateway)?;
    runtime()?.block_on(async {
        let client = podnet_agent_app::client(cmd.kubeconfig.as_deref()).await?;
        apply::apply(&client, &objects, cmd.dry_run).await?;
        if cmd.dry_run {
            return Ok(());
        }
        rollout::wait(&client, &objects, cmd.timeout).await
    })
}

pub fn uninstall(cmd: UninstallCommand) -> anyhow::Result<()> {
    let objects = manifests::objects(&[], true)?;
    runtime()?.block_on(async {
        let client = podnet_agent_app::client(cmd.kubeconfig.as_deref()).await?;
        apply::delete(&client, &objects, cmd.crds, cmd.dry_run).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_with_their_unit() {
        assert_eq!(parse_minutes("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_minutes("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_minutes("5").is_err());
    }
}
