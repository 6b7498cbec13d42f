//! `podnet lab exec`, `node-exec` and `external-exec`: run a command inside a pod's, a
//! node's or the external host's namespaces, so that curl, dig and getent behave as they
//! would there (a node's resolver is the external host's DNS, as the pods' Default policy
//! sees it). The command is forked with the namespaces entered between fork and exec
//! (setns in the child), and its exit status becomes ours.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, setns, unshare};
use podnet_lab_daemon::{LabDir, lab_plan};

use super::client;

/// Run a command inside a pod (its network, mount and UTS namespaces)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab exec web-7d4b9c-abcde -- curl -s http://web.default.svc.cluster.local/hostname\n  \
    podnet lab exec -n kube-system coredns-5d8f-xyz -- cat /etc/resolv.conf\n  \
    podnet lab exec client -c main -- getent hosts kubernetes.default")]
pub struct ExecArgs {
    /// The pod's namespace
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// The pod
    pod: String,
    /// A container of the pod (all of a pod's containers share its namespaces; the name is
    /// checked, as kubectl does)
    #[arg(short = 'c', long)]
    container: Option<String>,
    /// The command and its arguments
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Run a command inside a node's network namespace
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab node-exec kind-worker -- ip route\n  \
    podnet lab node-exec kind-worker -- nft list ruleset")]
pub struct NodeExecArgs {
    /// The node
    node: String,
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// Run a command on the lab's external host (203.0.113.10)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab external-exec -- curl -s http://172.18.0.3:30080/clientip\n  \
    podnet lab external-exec -- ip addr")]
pub struct ExternalExecArgs {
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub async fn exec(lab: &LabDir, args: ExecArgs) -> anyhow::Result<ExitStatus> {
    let client = client::connect(lab).await?;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, &args.namespace);
    let pod = pods
        .get_opt(&args.pod)
        .await
        .map_err(client::api_error)?
        .ok_or_else(|| {
            anyhow!(
                "pods {:?} not found in namespace {:?}",
                args.pod,
                args.namespace
            )
        })?;
    let spec = pod.spec.unwrap_or_default();
    if let Some(c) = &args.container
        && !spec.containers.iter().any(|x| &x.name == c)
    {
        bail!("container {c} is not valid for pod {}", args.pod);
    }
    let node = spec
        .node_name
        .ok_or_else(|| anyhow!("pod {:?} is not scheduled to a node yet", args.pod))?;
    let root = lab.node_dir(&node).join("kubelet");
    let sandbox =
        podnet_lab_kubelet::pod_sandbox(&root, &args.namespace, &args.pod).ok_or_else(|| {
            anyhow!(
                "pod {:?} is not running on node {node} (no live sandbox; see `podnet lab \
                 get pods` and `podnet lab logs {node}/kubelet`)",
                args.pod
            )
        })?;
    let ns = |kind: &str| PathBuf::from(format!("/proc/{}/ns/{kind}", sandbox.infra_pid));
    // The node's network for hostNetwork pods is what the infra process has, too.
    let entered = [
        (ns("net"), CloneFlags::CLONE_NEWNET),
        (ns("uts"), CloneFlags::CLONE_NEWUTS),
        (ns("mnt"), CloneFlags::CLONE_NEWNS),
    ];
    run_inside(&entered, &args.command, || Ok(()))
}

pub fn node_exec(lab: &LabDir, args: NodeExecArgs) -> anyhow::Result<ExitStatus> {
    let plan = lab_plan(lab)?;
    let node = plan.node(&args.node).ok_or_else(|| {
        let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
        anyhow!(
            "nodes {:?} not found; the lab's nodes: {}",
            args.node,
            names.join(", ")
        )
    })?;
    let path = podnet_netns::path_of(&node.netns);
    let host = Host {
        netns: path,
        resolv_conf: lab.node_resolv_conf(),
    };
    host.run(&args.command)
}

pub fn external_exec(lab: &LabDir, args: ExternalExecArgs) -> anyhow::Result<ExitStatus> {
    let plan = lab_plan(lab)?;
    let host = Host {
        netns: podnet_netns::path_of(&plan.external),
        resolv_conf: lab.node_resolv_conf(),
    };
    host.run(&args.command)
}

/// A node or the external host: its network namespace, and the resolver it uses (the
/// external host's DNS), given to the command by a bind mount in a mount namespace of its
/// own, so that `dig` and `getent` there ask what the machine would.
struct Host {
    netns: PathBuf,
    resolv_conf: PathBuf,
}

// === impl Host ===

impl Host {
    fn run(&self, command: &[String]) -> anyhow::Result<ExitStatus> {
        let source = CString::new(self.resolv_conf.as_os_str().as_bytes())?;
        let own_resolver = move || -> nix::Result<()> {
            unshare(CloneFlags::CLONE_NEWNS)?;
            let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
            mount(None::<&CStr>, c"/", None::<&CStr>, private, None::<&CStr>)?;
            mount(
                Some(source.as_c_str()),
                c"/etc/resolv.conf",
                None::<&CStr>,
                MsFlags::MS_BIND,
                None::<&CStr>,
            )
        };
        run_inside(
            &[(self.netns.clone(), CloneFlags::CLONE_NEWNET)],
            command,
            own_resolver,
        )
    }
}

/// Runs `command` in the namespaces named by the files in `entered`, then `then` (in the
/// child, before exec: system calls only), stdio inherited.
fn run_inside(
    entered: &[(PathBuf, CloneFlags)],
    command: &[String],
    then: impl Fn() -> nix::Result<()> + Send + Sync + 'static,
) -> anyhow::Result<ExitStatus> {
    let mut files = Vec::with_capacity(entered.len());
    for (path, kind) in entered {
        let file = File::open(path).with_context(|| {
            format!(
                "opening {} (is the lab up? `podnet lab status`)",
                path.display()
            )
        })?;
        files.push((file, *kind));
    }
    let (program, rest) = command.split_first().expect("clap requires a command");
    let mut cmd = Command::new(program);
    cmd.args(rest);
    // SAFETY: setns is a plain system call on fds opened before the fork.
    unsafe {
        cmd.pre_exec(move || {
            for (file, kind) in &files {
                setns(file.as_fd(), *kind).map_err(std::io::Error::from)?;
            }
            then().map_err(std::io::Error::from)?;
            // The mount namespace's root is the pod's view of /: start there.
            nix::unistd::chdir(c"/").map_err(std::io::Error::from)
        });
    }
    cmd.status()
        .with_context(|| format!("running {program:?} inside the lab"))
}
