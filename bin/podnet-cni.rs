//! `podnet-cni`: the bridge CNI plugin (see the `podnet-cni-plugin` crate).
//! Logs go to stderr only (stdout carries the CNI result); `RUST_LOG` overrides `warn`.

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
    podnet_cni_skel::run(&podnet_cni_plugin::BridgePlugin)
}
