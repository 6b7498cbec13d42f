//! `podnet lab down`, `status`, `list` and `kubeconfig`.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use podnet_lab_daemon::{DaemonProcess, LabDir, PidFile};

use super::Common;
use super::client::{self, Catalog};

/// How long a daemon gets to stop after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Stop a lab (its processes, its network namespaces) and remove its state
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab down --name dev\n  \
    podnet lab down --name dev --keep-state   # `podnet lab up --name dev` brings it back")]
pub struct DownArgs {
    /// Stop the daemon but keep the lab's objects and config
    #[arg(long)]
    keep_state: bool,
}

pub fn down(common: &Common, args: DownArgs) -> anyhow::Result<()> {
    let lab = common.lab()?;
    if !lab.path.exists() {
        eprintln!("lab {:?} does not exist", lab.name);
        return Ok(());
    }
    match DaemonProcess::find(&lab)? {
        Some(d) => {
            let killed = d.stop(STOP_GRACE);
            let how = if killed { "killed" } else { "stopped" };
            eprintln!("lab {:?}: daemon (pid {}) {how}", lab.name, d.pid);
        }
        // A pid file naming another process (the pid was reused) is not ours to signal.
        None => {
            if let Some(stale) = PidFile::read(&lab.pid_file())? {
                eprintln!(
                    "lab {:?}: daemon (pid {}) was not running",
                    lab.name, stale.pid
                );
            }
        }
    }
    // The daemon removes the lab's network when it stops; after a crash nobody did.
    let removed = podnet_lab_topology::teardown(&lab.name)
        .with_context(|| format!("removing the network of lab {:?}", lab.name))?;
    if !removed.is_empty() {
        eprintln!(
            "lab {:?}: removed {} network namespaces a crashed run left",
            lab.name,
            removed.len()
        );
    }
    if args.keep_state {
        let _ = std::fs::remove_file(lab.pid_file());
        eprintln!("lab {:?}: state kept in {}", lab.name, lab.path.display());
    } else {
        lab.remove()?;
        eprintln!("lab {:?}: deleted", lab.name);
    }
    Ok(())
}

pub fn kubeconfig(lab: &LabDir) -> anyhow::Result<()> {
    let path = lab.kubeconfig();
    if !path.is_file() {
        anyhow::bail!(
            "lab {:?} has no kubeconfig yet: `podnet lab up --name {}` writes it",
            lab.name,
            lab.name
        );
    }
    println!("{}", path.display());
    Ok(())
}

pub fn list(common: &Common) -> anyhow::Result<()> {
    let names = LabDir::list(&common.state_dir);
    if names.is_empty() {
        eprintln!("No labs in {}.", common.state_dir.display());
        return Ok(());
    }
    println!("{:<24} {:<10} {:<8} API SERVER", "NAME", "DAEMON", "PID");
    for name in names {
        let lab = LabDir::new(&common.state_dir, &name);
        let daemon = DaemonProcess::find(&lab)?;
        let addr = lab
            .address()?
            .map(|a| format!("https://{a}"))
            .unwrap_or_else(|| "-".into());
        let (state, pid) = match daemon {
            Some(d) => ("running", d.pid.to_string()),
            None => ("stopped", "-".into()),
        };
        println!("{name:<24} {state:<10} {pid:<8} {addr}");
    }
    Ok(())
}

pub async fn status(lab: &LabDir) -> anyhow::Result<()> {
    let daemon = DaemonProcess::find(lab)?;
    println!("Lab:         {}", lab.name);
    println!("State:       {}", lab.path.display());
    match daemon {
        Some(d) => println!("Daemon:      running (pid {})", d.pid),
        None => println!(
            "Daemon:      not running (`podnet lab up --name {}` restarts it with its objects)",
            lab.name
        ),
    }
    if let Some(addr) = lab.address()? {
        println!("API server:  https://{addr}");
    }
    println!("Kubeconfig:  {}", lab.kubeconfig().display());
    println!("Log:         {}", lab.log_file().display());
    if daemon.is_none() {
        return Ok(());
    }
    let client = client::connect(lab).await?;
    let catalog = Catalog::discover(&client).await?;
    let mut counts = Vec::new();
    for rt in catalog.all().iter().filter(|rt| rt.listable) {
        let list = client::get_text(&client, &rt.path(None, None), "application/json")
            .await
            .map_err(client::api_error)?;
        let list: serde_json::Value =
            serde_json::from_str(&list).with_context(|| format!("listing {}", rt.plural))?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if rt.plural == "nodes" {
            println!("Nodes:");
            for n in &items {
                let name = n["metadata"]["name"].as_str().unwrap_or_default();
                let cidr = n["spec"]["podCIDR"].as_str().unwrap_or("-");
                println!("  {name:<32} pods {cidr}");
            }
        }
        if !items.is_empty() {
            counts.push(format!("{} {}", items.len(), rt.plural));
        }
    }
    println!("Objects:     {}", counts.join(", "));
    Ok(())
}
