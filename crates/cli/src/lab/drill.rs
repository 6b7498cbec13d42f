//! `podnet lab drill NAME…`: break a lab in one of the ways real clusters break, check that
//! `podnet trace` names the broken layer, then restore it (`--keep` leaves it broken to
//! practise on). The drills work on a small app of their own in namespace `drill` (a
//! Deployment `web` behind a NodePort Service, a `client` pod) and reach everything through
//! the API, as a user would with kubectl.

mod catalog;
mod setup;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use podnet_lab_daemon::LabDir;
use podnet_trace::{Destination, LayerName, Objects, Options, Report, Spec};

use super::client;
use catalog::{DRILLS, Drill};

/// How long a broken (or restored) lab may take to show it: pods restart, slices follow.
const SETTLE: Duration = Duration::from_secs(180);

/// Break the lab on purpose, check that `podnet trace` names the layer, restore it
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    podnet lab drill --list\n  \
    podnet lab drill selector-mismatch\n  \
    podnet lab drill readiness-failing --keep   # leave it broken, then:\n  \
    podnet trace drill/client svc/drill/web\n  \
    podnet lab drill all")]
pub struct DrillArgs {
    /// Drills to run, in order (`all`: every one)
    names: Vec<String>,
    /// List the drills and what each breaks
    #[arg(long)]
    list: bool,
    /// Leave the lab broken after the (last) drill
    #[arg(long)]
    keep: bool,
}

pub async fn run(lab: &LabDir, args: DrillArgs) -> anyhow::Result<()> {
    if args.list || args.names.is_empty() {
        for d in DRILLS {
            println!("{:<20} {} (trace names: {})", d.name, d.about, d.layer);
        }
        return Ok(());
    }
    let drills: Vec<&Drill> = if args.names.iter().any(|n| n == "all") {
        DRILLS.iter().collect()
    } else {
        args.names
            .iter()
            .map(|n| {
                DRILLS.iter().find(|d| d.name == n).with_context(|| {
                    format!("no drill {n:?} (`podnet lab drill --list` lists them)")
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let client = client::connect(lab).await?;
    setup::app(&client).await?;
    println!("drill app ready: drill/web (2 pods behind a NodePort Service), drill/client");
    settle(&client, &setup::healthy_path(), None).await?;
    let mut failed = Vec::new();
    for (i, d) in drills.iter().enumerate() {
        let last = i + 1 == drills.len();
        println!("\n=== drill {}: {}", d.name, d.about);
        let path = d.break_it(&client).await?;
        match settle(&client, &path, Some((d.layer, d.evidence))).await {
            Ok(report) => println!("{report}\n--- trace named {} as expected", d.layer),
            Err(e) => {
                println!("--- FAILED: {e:#}");
                failed.push(d.name);
            }
        }
        if args.keep && last {
            println!(
                "left broken (--keep): `podnet lab drill {}` restores only by running again without --keep",
                d.name
            );
            break;
        }
        d.restore(&client).await?;
        let healthy = setup::healthy_path();
        settle(&client, &healthy, None).await?;
        println!(
            "--- restored: trace {} → {} is ok again",
            healthy.0, healthy.1
        );
    }
    if !failed.is_empty() {
        bail!("drills failed: {}", failed.join(", "));
    }
    Ok(())
}

/// Traces `path` until its first broken layer is `want`'s, with its evidence (`None`:
/// until no layer is broken).
async fn settle(
    client: &kube::Client,
    path: &(String, String),
    want: Option<(LayerName, &str)>,
) -> anyhow::Result<Report> {
    let src = Spec::parse(&path.0)?;
    let dst = Destination::parse(&path.1)?;
    let deadline = Instant::now() + SETTLE;
    loop {
        let objects = Objects::load(client).await?;
        let report = podnet_trace::trace(&objects, &src, &dst, &Options::default());
        if let Ok(r) = &report {
            let named = match (r.broken(), want) {
                (None, None) => true,
                (Some(l), Some((layer, evidence))) => {
                    l.layer == layer && l.evidence.iter().any(|e| e.contains(evidence))
                }
                _ => false,
            };
            if named {
                return Ok(report?);
            }
        }
        if Instant::now() > deadline {
            let shown = match report {
                Ok(r) => r.to_string(),
                Err(e) => e.to_string(),
            };
            match want {
                Some((l, e)) => {
                    bail!("trace never named {l} ({e:?}) within {SETTLE:?}; last:\n{shown}")
                }
                None => bail!("the path did not become healthy within {SETTLE:?}; last:\n{shown}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
