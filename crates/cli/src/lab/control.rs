//! `podnet lab stop` and `podnet lab start`: failure drills. Stopping a node's agent or
//! kubelet leaves the rest running (the pods keep their network; routes and rules stay as
//! they are), as when the process dies on a real node; starting it again lets it catch up.
//! The daemon does the stopping and starting (it started the process); these commands set
//! or clear the marker it watches and wait until it has acted.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Args;
use podnet_lab_daemon::{Component, DaemonProcess, LabDir, PidFile, lab_plan};

/// How long the daemon gets to act on a marker (it stops with SIGTERM, then SIGKILL after
/// 10 s).
const ACT_WAIT: Duration = Duration::from_secs(15);

/// Which processes: NODE (its agent and kubelet), NODE/agent, NODE/kubelet, external
/// (its servers), external/http, external/dns
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// NODE, NODE/agent, NODE/kubelet, external, external/http or external/dns
    target: String,
}

/// Stop a node's agent or kubelet (or both) until `podnet lab start`
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab stop kind-worker/agent     # routes stay; new nodes are not learnt\n  \
    podnet lab stop kind-worker/kubelet   # pods keep running; the node goes NotReady\n  \
    podnet lab stop kind-worker           # both")]
pub struct StopArgs {
    #[command(flatten)]
    target: TargetArgs,
}

/// Start again what `podnet lab stop` stopped
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  podnet lab start kind-worker/agent")]
pub struct StartArgs {
    #[command(flatten)]
    target: TargetArgs,
}

pub fn stop(lab: &LabDir, args: StopArgs) -> anyhow::Result<()> {
    for c in components(lab, &args.target.target)? {
        let marker = lab.stopped_marker(&c);
        if let Some(dir) = marker.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&marker, b"")?;
        wait(&format!("{c} to stop"), || running(lab, &c).is_none())?;
        eprintln!("{c}: stopped");
    }
    Ok(())
}

pub fn start(lab: &LabDir, args: StartArgs) -> anyhow::Result<()> {
    for c in components(lab, &args.target.target)? {
        match std::fs::remove_file(lab.stopped_marker(&c)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        wait(&format!("{c} to start"), || running(lab, &c).is_some())?;
        let pid = running(lab, &c).map_or(0, |p| p.pid);
        eprintln!("{c}: running (pid {pid})");
    }
    Ok(())
}

/// The processes `target` names, checked against the lab's nodes.
fn components(lab: &LabDir, target: &str) -> anyhow::Result<Vec<Component>> {
    if DaemonProcess::find(lab)?.is_none() {
        bail!(
            "lab {:?} is not running (`podnet lab up` starts it)",
            lab.name
        );
    }
    let plan = lab_plan(lab)?;
    let (owner, name) = match target.split_once('/') {
        Some((owner, name)) => (owner, Some(name)),
        None => (target, None),
    };
    let valid: &[&str] = match owner {
        "external" => &["http", "dns"],
        node if plan.node(node).is_some() => &["agent", "kubelet"],
        _ => {
            let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(anyhow!(
                "{target:?}: no such node; the lab's nodes: {}, and external",
                names.join(", ")
            ));
        }
    };
    match name {
        None => Ok(valid.iter().map(|n| Component::new(owner, n)).collect()),
        Some(n) if valid.contains(&n) => Ok(vec![Component::new(owner, n)]),
        Some(n) => bail!(
            "{target:?}: {owner} runs no {n:?}; it runs: {}",
            valid.join(", ")
        ),
    }
}

/// The live process behind `c`'s pid file.
fn running(lab: &LabDir, c: &Component) -> Option<PidFile> {
    PidFile::read(&lab.component_pid_file(c))
        .ok()
        .flatten()
        .filter(PidFile::alive)
}

fn wait(what: &str, done: impl Fn() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + ACT_WAIT;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what} (see the daemon's log: `podnet lab status`)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
