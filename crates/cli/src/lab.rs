//! `podnet lab`: a whole Kubernetes cluster on this machine, made of network namespaces.
//! `up` starts a lab's daemon (its network, API server, controllers, and every node's agent
//! and kubelet) in the background and waits for it, `status`/`list`/`kubeconfig` inspect
//! labs, `down` stops and removes one, `apply`/`get`/`delete` are a small built-in client
//! (kube-rs), so kubectl is optional, and `exec`/`node-exec`/`external-exec`/`logs`/
//! `stop`/`start` reach into the lab.

pub(crate) mod addons;
mod apply;
pub(crate) mod client;
mod container_logger;
mod control;
mod drill;
mod exec;
pub(crate) mod gateway;
mod get;
mod info;
mod kubelet;
mod logs;
pub(crate) mod manifest;
pub(crate) mod network_policy_api;
mod pods;
pub(crate) mod progress;
mod up;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use podnet_lab_daemon::LabDir;
use podnet_lab_daemon::state::{DEFAULT_ROOT, ROOT_ENV};

/// The lab's name when neither --name nor the cluster config gives one (kind's default).
const DEFAULT_NAME: &str = "kind";

/// Run a Kubernetes cluster on this machine: nodes as network namespaces, kubectl-ready
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  \
    podnet lab up -f examples/lab/web.yaml\n  \
    export KUBECONFIG=$(podnet lab kubeconfig)\n  \
    kubectl get pods -o wide\n  \
    podnet lab exec POD -- curl -s http://web/hostname\n  \
    podnet lab down\n\n\
    Each lab keeps its state in STATE_DIR/NAME: the objects, its address, kubeconfigs, \
    the daemon's pid and log, the nodes' CNI config and logs. Its network namespaces are \
    podnet.NAME.*.\n\
    The daemon itself is `podnet lab daemon --name NAME`: `up` starts it in the background; \
    run it by hand to watch a lab in the foreground (Ctrl-C stops it, state kept).")]
pub struct LabCommand {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    verb: Verb,
}

/// Which lab, and where labs live.
#[derive(Debug, Args)]
struct Common {
    /// The lab's name [default: for `up`, the config's `name`; for the others, the only lab
    /// there is; else "kind"]
    #[arg(long, global = true, env = "PODNET_LAB_NAME")]
    name: Option<String>,
    /// Directory holding the labs' state, one subdirectory per lab
    #[arg(long, global = true, env = ROOT_ENV, default_value = DEFAULT_ROOT)]
    state_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
enum Verb {
    Up(up::UpArgs),
    Down(info::DownArgs),
    /// Show a lab's daemon, API address, nodes and object counts
    #[command(after_help = "Example:\n  podnet lab status --name dev")]
    Status,
    /// List the labs and whether their daemon runs
    #[command(after_help = "Example:\n  podnet lab list")]
    List,
    /// Print the path of a lab's kubeconfig
    #[command(after_help = "Example:\n  export KUBECONFIG=$(podnet lab kubeconfig --name dev)")]
    Kubeconfig,
    Apply(apply::ApplyArgs),
    Delete(apply::DeleteArgs),
    Get(get::GetArgs),
    Exec(exec::ExecArgs),
    NodeExec(exec::NodeExecArgs),
    ExternalExec(exec::ExternalExecArgs),
    Logs(logs::LogsArgs),
    Stop(control::StopArgs),
    Start(control::StartArgs),
    Kubelet(kubelet::KubeletArgs),
    Drill(drill::DrillArgs),
    #[command(hide = true)]
    ContainerLogger(container_logger::ContainerLoggerArgs),
    /// Run a lab's control plane in the foreground (what `up` starts in the background)
    #[command(
        hide = true,
        after_help = "Example (the lab must exist: `podnet lab up` makes it):\n  \
            RUST_LOG=info podnet lab daemon --name dev"
    )]
    Daemon,
}

pub fn run(cmd: LabCommand) -> anyhow::Result<()> {
    let common = &cmd.common;
    match cmd.verb {
        Verb::Up(args) => up::run(common, args),
        Verb::Down(args) => info::down(common, args),
        Verb::Status => runtime()?.block_on(info::status(&common.existing()?)),
        Verb::List => info::list(common),
        Verb::Kubeconfig => info::kubeconfig(&common.existing()?),
        Verb::Apply(args) => runtime()?.block_on(apply::apply(&common.existing()?, args)),
        Verb::Delete(args) => runtime()?.block_on(apply::delete(&common.existing()?, args)),
        Verb::Get(args) => runtime()?.block_on(get::get(&common.existing()?, args)),
        Verb::Exec(args) => exit_with(runtime()?.block_on(exec::exec(&common.existing()?, args))?),
        Verb::NodeExec(args) => exit_with(exec::node_exec(&common.existing()?, args)?),
        Verb::ExternalExec(args) => exit_with(exec::external_exec(&common.existing()?, args)?),
        Verb::Logs(args) => runtime()?.block_on(logs::logs(&common.existing()?, args)),
        Verb::Stop(args) => control::stop(&common.existing()?, args),
        Verb::Start(args) => control::start(&common.existing()?, args),
        Verb::Kubelet(args) => kubelet::run(args),
        Verb::Drill(args) => runtime()?.block_on(drill::run(&common.existing()?, args)),
        Verb::ContainerLogger(args) => container_logger::run(args),
        Verb::Daemon => daemon(&common.existing()?),
    }
}

/// Ends this process with the exit status of the command run inside the lab (128+signal
/// when a signal ended it, as a shell reports it).
fn exit_with(status: std::process::ExitStatus) -> anyhow::Result<()> {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    std::process::exit(code)
}

fn daemon(lab: &LabDir) -> anyhow::Result<()> {
    runtime()?.block_on(podnet_lab_daemon::run(lab))?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

// === impl Common ===

impl Common {
    /// The lab named by --name, else the only one there is, else the default name.
    fn lab(&self) -> anyhow::Result<LabDir> {
        let name = match &self.name {
            Some(name) => name.clone(),
            None => match LabDir::list(&self.state_dir).as_slice() {
                [only] => only.clone(),
                _ => DEFAULT_NAME.to_string(),
            },
        };
        self.named(&name)
    }

    fn named(&self, name: &str) -> anyhow::Result<LabDir> {
        podnet_lab_config::validate_cluster_name(name)
            .map_err(|why| anyhow::anyhow!("--name: Invalid value: {name:?}: {why}"))?;
        Ok(LabDir::new(&self.state_dir, name))
    }

    /// The lab, which must have been made by `up`.
    fn existing(&self) -> anyhow::Result<LabDir> {
        let lab = self.lab()?;
        if !lab.exists() {
            anyhow::bail!(
                "no lab named {:?} in {} (make it with `podnet lab up --name {}`)",
                lab.name,
                self.state_dir.display(),
                lab.name
            );
        }
        Ok(lab)
    }
}
