//! `podnet lab logs`: a container's log (found on the node that runs the pod), or the log of
//! one of the lab's own processes (`NODE/agent`, `NODE/kubelet`, `external/http`).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use podnet_lab_daemon::{Component, LabDir};

use super::client;

/// Print the logs of a container in a pod, or of a lab process (NODE/agent, external/dns, …)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab logs web-7d4b9c-abcde\n  \
    podnet lab logs -n kube-system coredns-5d8f-xyz -f\n  \
    podnet lab logs kind-worker/agent        # the node agent's log\n  \
    podnet lab logs kind-worker/kubelet")]
pub struct LogsArgs {
    /// The pod's namespace
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// A pod, or OWNER/PROCESS for the lab's own processes
    target: String,
    /// The container (default: the pod's only or first container)
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// Keep printing as the log grows
    #[arg(short = 'f', long)]
    follow: bool,
}

pub async fn logs(lab: &LabDir, args: LogsArgs) -> anyhow::Result<()> {
    let path = match args.target.split_once('/') {
        Some((owner, name)) => {
            let path = lab.component_log(&Component::new(owner, name));
            if !path.exists() {
                bail!(
                    "no log for {}: the lab's processes are NODE/agent, NODE/kubelet, \
                     external/http and external/dns",
                    args.target
                );
            }
            path
        }
        None => container_log(lab, &args).await?,
    };
    print(&path, args.follow)
}

async fn container_log(lab: &LabDir, args: &LogsArgs) -> anyhow::Result<PathBuf> {
    let client = client::connect(lab)?;
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
    podnet_lab_kubelet::find_log_path(&root, &args.namespace, &args.target, &container).ok_or_else(
        || {
            anyhow!(
                "container {container:?} of pod {:?} has not started on node {node} yet",
                args.target
            )
        },
    )
}

/// Prints the file; with `follow`, keeps printing what is appended until interrupted.
fn print(path: &PathBuf, follow: bool) -> anyhow::Result<()> {
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
