//! `podnet lab logs`: a container's log (the kubelet's CRI log files on the node that runs the
//! pod, read with kubectl's options), or the log of one of the lab's own processes
//! (`NODE/agent`, `NODE/kubelet`, `external/http`).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use podnet_lab_daemon::{Component, LabDir};
use podnet_lab_kubelet::logs;

use super::client;

/// Print the logs of a container in a pod, or of a lab process (NODE/agent, external/dns, …)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab logs web-7d4b9c-abcde\n  \
    podnet lab logs -n kube-system coredns-5d8f-xyz -f --tail 20\n  \
    podnet lab logs web-0 -c sidecar --since 5m --timestamps\n  \
    podnet lab logs crashy -p                # the instance before the last restart\n  \
    podnet lab logs kind-worker/agent        # the node agent's log\n  \
    podnet lab logs kind-worker/kubelet\n\n\
    Container logs are read from the kubelet's CRI log files on the pod's node, as \
    `kubectl logs` reads them through the API server.")]
pub struct LogsArgs {
    /// The pod's namespace
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// A pod, or OWNER/PROCESS for the lab's own processes
    target: String,
    /// The container (default: the pod's only or first container)
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Keep printing as the log grows (until the container exits)
    #[arg(short = 'f', long)]
    follow: bool,
    /// The container's previous instance (before its last restart)
    #[arg(short = 'p', long)]
    previous: bool,
    /// Lines from the end to show; -1 for all
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    tail: i64,
    /// Only lines newer than this long ago (5s, 2m, 3h)
    #[arg(long, value_parser = podnet_lab_workloads::parse_go_duration)]
    since: Option<Duration>,
    /// Only lines at or after this time (RFC 3339)
    #[arg(long, conflicts_with = "since")]
    since_time: Option<jiff::Timestamp>,
    /// Prefix each line with its time (RFC 3339, nanoseconds)
    #[arg(long)]
    timestamps: bool,
    /// Stop after this many bytes
    #[arg(long)]
    limit_bytes: Option<u64>,
}

pub async fn logs(lab: &LabDir, args: LogsArgs) -> anyhow::Result<()> {
    match args.target.split_once('/') {
        Some((owner, name)) => {
            let path = lab.component_log(&Component::new(owner, name));
            if !path.exists() {
                bail!(
                    "no log for {}: the lab's processes are NODE/agent, NODE/kubelet, \
                     external/http and external/dns",
                    args.target
                );
            }
            print_plain(&path, args.follow)
        }
        None => print_container_log(lab, &args).await,
    }
}

async fn print_container_log(lab: &LabDir, args: &LogsArgs) -> anyhow::Result<()> {
    let (dir, container) = container_log_dir(lab, args).await?;
    let file = logs::log_to_read(&dir, &args.target, &container, args.previous)?;
    let now = jiff::Timestamp::now();
    let options = logs::LogOptions {
        follow: args.follow,
        since: args.since_time.or_else(|| {
            let ago = jiff::SignedDuration::try_from(args.since?).ok()?;
            now.checked_sub(ago).ok()
        }),
        timestamps: args.timestamps,
        tail_lines: u64::try_from(args.tail).ok(),
        limit_bytes: args.limit_bytes,
        stream: None,
    };
    let mut chunks = logs::read_log(&file, &options)?;
    let mut out = std::io::stdout().lock();
    while let Some(chunk) = chunks.next().await {
        out.write_all(&chunk?)?;
        out.flush()?;
    }
    Ok(())
}

async fn container_log_dir(lab: &LabDir, args: &LogsArgs) -> anyhow::Result<(PathBuf, String)> {
    let client = client::connect(lab).await?;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, &args.namespace);
    let pod = pods
        .get_opt(&args.target)
        .await
        .map_err(client::api_error)?
        .ok_or_else(|| {
            anyhow!(
                "pods {:?} not found in namespace {:?}",
                args.target,
                args.namespace
            )
        })?;
    let spec = pod.spec.unwrap_or_default();
    let container = match &args.container {
        Some(c) if spec.containers.iter().any(|x| &x.name == c) => c.clone(),
        Some(c) => bail!("container {c} is not valid for pod {}", args.target),
        None => spec
            .containers
            .first()
            .map(|c| c.name.clone())
            .ok_or_else(|| anyhow!("pod {:?} has no containers", args.target))?,
    };
    let node = spec
        .node_name
        .ok_or_else(|| anyhow!("pod {:?} is not scheduled to a node yet", args.target))?;
    let root = lab.node_dir(&node).join("kubelet");
    let dir = logs::find_container_log_dir(&root, &args.namespace, &args.target, &container)
        .ok_or_else(|| {
            anyhow!(
                "container {container:?} of pod {:?} has not started on node {node} yet",
                args.target
            )
        })?;
    Ok((dir, container))
}

/// Prints a lab process's log file; with `follow`, keeps printing what is appended until
/// interrupted.
fn print_plain(path: &Path, follow: bool) -> anyhow::Result<()> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        file.read_to_end(&mut buf)?;
        out.write_all(&buf)?;
        out.flush()?;
        if !follow {
            return Ok(());
        }
        // A log that was rotated or truncated starts over.
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len < file.stream_position()? {
            file.seek(SeekFrom::Start(0))?;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
