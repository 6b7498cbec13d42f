//! `podnet lab up`: makes a lab (or finds it), starts its daemon in the background if it is
//! not running — a daemon that died is restarted on the same state, after clearing what it
//! left — waits until the control plane answers and every node is Ready, applies manifests,
//! waits until every pod is Ready, and prints where everything is.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use k8s_openapi::api::core::v1::Node;
use podnet_lab_daemon::{DaemonProcess, LabDir, context_name};

use super::client::{self, Catalog};
use super::progress::Steps;
use super::{
    Common, DEFAULT_NAME, addons, apply, gateway, manifest, network_policy_api, pods, runtime,
};

/// Start a lab and wait until its nodes and pods are Ready (restarts a lab whose daemon died)
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab up                                   # 1 control-plane node, 2 workers\n  \
    podnet lab up --name dev --config examples/lab/kind-cluster.yaml -f examples/lab/web.yaml\n\n\
    The config is kind's (kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4); a lab that \
    exists keeps the config it was made with.")]
pub struct UpArgs {
    /// A kind cluster config (kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Manifests to apply once the lab is up (file, directory or -; repeatable)
    #[arg(short = 'f', long = "filename")]
    files: Vec<PathBuf>,
    /// How long to wait for each stage: the control plane, the nodes, the pods
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    wait: Duration,
}

pub fn run(common: &Common, args: UpArgs) -> anyhow::Result<()> {
    let (text, parsed) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let parsed =
                podnet_lab_config::parse(&text).with_context(|| format!("{}", path.display()))?;
            (text, parsed)
        }
        None => (
            String::new(),
            podnet_lab_config::parse("").expect("empty config"),
        ),
    };
    let name = common
        .name
        .clone()
        .or(parsed.cluster.name.clone())
        .unwrap_or_else(|| DEFAULT_NAME.into());
    let lab = common.named(&name)?;
    let family = parsed.cluster.networking.ip_family;
    if family != podnet_lab_config::IpFamily::Ipv4 {
        bail!(
            "networking.ipFamily: Unsupported value: \"{family}\": the lab's node network is \
             IPv4 (172.18.0.0/16); ipv6 and dual-stack labs are not supported yet"
        );
    }
    let objects = manifest_objects(&args.files)?;
    let mut steps = Steps::new();
    if lab.exists() {
        let stored = std::fs::read_to_string(lab.config_file())?;
        if args.config.is_some() && stored != text {
            bail!(
                "lab {name:?} exists with another cluster config: `podnet lab down --name {name}` \
                 first, or drop --config to start it as it is"
            );
        }
    } else {
        for note in &parsed.notes {
            eprintln!("note: {}: {}", note.path, note.message);
        }
        std::fs::create_dir_all(&lab.path)
            .with_context(|| format!("creating {}", lab.path.display()))?;
        podnet_lab_daemon::state::write_atomic(&lab.config_file(), text.as_bytes())?;
    }

    let rt = runtime()?;
    let pid = match DaemonProcess::find(&lab)? {
        Some(d) => {
            eprintln!(" • lab {name:?} is already running (pid {})", d.pid);
            d.pid
        }
        None => {
            steps.start(&format!("Starting the control plane of lab {name:?}"));
            let mut child = spawn(&lab, &common.state_dir)?;
            let pid = child.id() as i32;
            rt.block_on(wait_ready(&lab, &mut child, args.wait, &steps))?;
            steps.done(&format!("pid {pid}"));
            pid
        }
    };
    rt.block_on(async {
        let client = client::connect(&lab).await?;
        steps.start("Waiting for the nodes");
        let nodes = match wait_nodes(&client, parsed_nodes(&lab)?, args.wait, &steps).await {
            Ok(nodes) => nodes,
            Err(e) => {
                steps.fail();
                return Err(e);
            }
        };
        steps.done(&format!("{} nodes Ready", nodes.len()));
        let catalog = Catalog::discover(&client).await?;
        steps.start("Installing the cluster DNS (kube-dns)");
        match addons::install(&lab, &client, &catalog).await {
            Ok(()) => steps.done("podnet dns behind Service kube-system/kube-dns"),
            Err(e) => {
                steps.fail();
                return Err(e);
            }
        }
        steps.start("Installing the ClusterNetworkPolicy CRD");
        match network_policy_api::install(&client, &catalog).await {
            Ok(()) => steps.done("policy.networking.k8s.io/v1alpha2"),
            Err(e) => {
                steps.fail();
                return Err(e);
            }
        }
        steps.start("Installing the gateway (IngressClass podnet)");
        match gateway::install(&client, &catalog).await {
            Ok(()) => steps.done("podnet gateway behind Service podnet-gateway/podnet-gateway"),
            Err(e) => {
                steps.fail();
                return Err(e);
            }
        }
        if !objects.is_empty() {
            steps.start(&format!("Applying {} objects", objects.len()));
            let applied = apply::apply_objects(&client, &catalog, &objects, "default", true).await;
            match applied {
                Ok(()) => steps.done(""),
                Err(e) => {
                    steps.fail();
                    return Err(e);
                }
            }
        }
        steps.start("Waiting for the pods");
        match pods::wait_ready(&client, args.wait, &steps).await {
            Ok(n) => steps.done(&format!("{n} pods Ready")),
            Err(e) => {
                steps.fail();
                return Err(e);
            }
        }
        summary(&lab, pid, &nodes)
    })
}

fn manifest_objects(files: &[PathBuf]) -> anyhow::Result<Vec<manifest::Object>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    manifest::read_all(files)
}

fn parsed_nodes(lab: &LabDir) -> anyhow::Result<usize> {
    Ok(lab.cluster()?.cluster.nodes.len())
}

/// Re-executes this binary as the lab's daemon: its own session (so it outlives the shell),
/// stdin closed, stdout and stderr appended to the lab's log.
fn spawn(lab: &LabDir, root: &std::path::Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("finding the podnet binary")?;
    let log_path = lab.log_file();
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut cmd = Command::new(exe);
    cmd.args(["lab", "daemon", "--name", &lab.name, "--state-dir"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    // The log is a file: no terminal colour codes in it.
    cmd.env("NO_COLOR", "1");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    cmd.spawn().context("starting the lab daemon")
}

/// Until the daemon we started answers /readyz; fails early, with its log, if it exits.
async fn wait_ready(
    lab: &LabDir,
    child: &mut Child,
    wait: Duration,
    steps: &Steps,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the lab daemon exited ({status}); the end of {}:\n{}",
                lab.log_file().display(),
                log_tail(lab, 15)
            );
        }
        let ours = DaemonProcess::find(lab)?.is_some_and(|d| d.pid == child.id() as i32);
        if ours {
            steps.update("API server starting");
            if let Ok(client) = client::connect(lab).await
                && client::get_text(&client, "/readyz", "*/*").await.is_ok()
            {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the control plane was not ready after {wait:?}; see {}",
                lab.log_file().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Until every node of the config is registered with a pod CIDR and Ready (its kubelet
/// reports in).
async fn wait_nodes(
    client: &kube::Client,
    want: usize,
    wait: Duration,
    steps: &Steps,
) -> anyhow::Result<Vec<Node>> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    let deadline = Instant::now() + wait;
    loop {
        let nodes = api
            .list(&Default::default())
            .await
            .map_err(client::api_error)?
            .items;
        let ready: Vec<&Node> = nodes.iter().filter(|n| node_ready(n)).collect();
        steps.update(&format!("{}/{want} Ready", ready.len()));
        if ready.len() >= want {
            return Ok(nodes);
        }
        if Instant::now() > deadline {
            let waiting: Vec<&str> = nodes
                .iter()
                .filter(|n| !node_ready(n))
                .filter_map(|n| n.metadata.name.as_deref())
                .collect();
            return Err(anyhow!(
                "only {} of {want} nodes Ready after {wait:?} (waiting: {}); see \
                 `podnet lab logs NODE/kubelet`",
                ready.len(),
                waiting.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A pod CIDR, and the Ready condition True.
fn node_ready(node: &Node) -> bool {
    let cidr = node.spec.as_ref().is_some_and(|s| s.pod_cidr.is_some());
    let ready = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    cidr && ready
}

fn summary(lab: &LabDir, pid: i32, nodes: &[Node]) -> anyhow::Result<()> {
    let addr = lab.address()?.ok_or_else(|| anyhow!("no API address"))?;
    let kubeconfig = lab.kubeconfig();
    println!("Lab {:?} is up (daemon pid {pid}).", lab.name);
    println!("  API server  https://{addr}");
    println!("  Nodes       {}", nodes.len());
    for node in nodes {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let cidr = node
            .spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_deref())
            .unwrap_or("-");
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let role = if labels.contains_key("node-role.kubernetes.io/control-plane") {
            "control-plane"
        } else {
            "worker"
        };
        println!("    {name:<32} {role:<14} pods {cidr}");
    }
    println!(
        "  Kubeconfig  {} (context {})",
        kubeconfig.display(),
        context_name(&lab.name)
    );
    println!();
    println!("  export KUBECONFIG={}", kubeconfig.display());
    println!(
        "  kubectl get nodes             # or: podnet lab get nodes --name {}",
        lab.name
    );
    Ok(())
}

pub fn log_tail(lab: &LabDir, lines: usize) -> String {
    let text = std::fs::read_to_string(lab.log_file()).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected e.g. 60s, 2m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "ms" => Ok(Duration::from_millis(n)),
        _ => Err(format!("{s:?}: expected e.g. 60s, 2m")),
    }
}
