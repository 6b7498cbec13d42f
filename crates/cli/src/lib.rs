//! The `podnet` command: one module per subcommand. `bin/podnet.rs` parses [`Cli`], sets up
//! logging and calls [`run`]; each subcommand's module owns its flags and its work.

pub mod agent;
pub mod cni;
pub mod dns;
pub mod gateway;
pub mod install;
pub mod lab;
pub mod trace;
pub mod workload;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "podnet",
    version,
    about = "podnet: the Kubernetes networking stack",
    after_help = "Logs go to stderr; set RUST_LOG=debug to see every plugin call."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Agent(agent::AgentCommand),
    Cni(cni::CniCommand),
    Dns(dns::DnsCommand),
    Gateway(gateway::GatewayCommand),
    Install(install::InstallCommand),
    Uninstall(install::UninstallCommand),
    Lab(lab::LabCommand),
    Trace(trace::TraceCommand),
    Workload(workload::WorkloadCommand),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Agent(cmd) => agent::run(cmd),
        Command::Cni(cmd) => cni::run(cmd),
        Command::Dns(cmd) => dns::run(cmd),
        Command::Gateway(cmd) => gateway::run(cmd),
        Command::Install(cmd) => install::install(cmd),
        Command::Uninstall(cmd) => install::uninstall(cmd),
        Command::Lab(cmd) => lab::run(cmd),
        Command::Trace(cmd) => trace::run(cmd),
        Command::Workload(cmd) => workload::run(cmd),
    }
}

/// An error and its causes on one line, each cause once: library errors already quote
/// their source in their own message, added context does not.
pub fn report(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !out.contains(&cause) {
            out = format!("{out}: {cause}");
        }
    }
    out
}
