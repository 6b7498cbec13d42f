//! `podnet workload`: runs one of the lab's built-in workloads in this process — Kubernetes'
//! agnhost test image's sub-commands (`netexec`, `serve-hostname`, `connect`, `pause`) with
//! agnhost's flags and answers, the emulated images' servers (`nginx`, `httpd`, `httpbin`,
//! `hello-app`), and `ports`, podnet's own test server. The lab's kubelet starts containers
//! of those images this way (docs/images.md).
//!
//! - [`in_cluster`]: `list-services`, an in-cluster kube-rs client.

mod in_cluster;

use clap::{Args, Subcommand};
use podnet_lab_workloads::Workload;

/// Run a built-in workload: agnhost's sub-commands, an emulated image's server
/// (nginx, httpd, httpbin, hello-app), or an in-cluster client
#[derive(Debug, Args)]
#[command(
    after_help = "Flags are agnhost's (`--http-port=8080` or `--http-port 8080`). \
The exit status is the workload's: connect exits 1 on failure, pause exits 2 on SIGTERM, \
netexec exits with /exit's code.\nSet RUST_LOG=info to see one log line per request.\n\
Examples:\n  podnet workload netexec --http-port=8080\n  podnet workload nginx --port 8080",
    allow_negative_numbers = true
)]
pub struct WorkloadCommand {
    #[command(subcommand)]
    workload: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    #[command(flatten)]
    Builtin(Workload),
    ListServices(in_cluster::ListServicesArgs),
}

pub fn run(cmd: WorkloadCommand) -> anyhow::Result<()> {
    let code = match cmd.workload {
        Which::Builtin(workload) => podnet_lab_workloads::run(workload)?,
        Which::ListServices(args) => in_cluster::run(args)?,
    };
    if code != 0 {
        // The workload's own status (an /exit code, pause's 2), not a podnet failure.
        std::process::exit(code);
    }
    Ok(())
}
