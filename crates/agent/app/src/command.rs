//! The agent as a command runs it: its own runtime, stopped by SIGTERM or SIGINT.

use std::path::Path;

use crate::agent::{Agent, Settings};
use crate::client::client;
use crate::error::{Error, Result};

/// Runs the agent on a runtime of its own until SIGTERM or SIGINT.
pub fn main(settings: Settings, kubeconfig: Option<&Path>) -> Result<()> {
    // One thread is plenty: the agent waits on the API server and makes a few netlink
    // requests per change.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    rt.block_on(async {
        let client = client(kubeconfig).await?;
        Agent::new(settings, client).run(shutdown_signal()).await
    })
}

/// Completes on the first SIGTERM (how a kubelet or the lab stops the agent) or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM"),
                _ = int.recv() => tracing::info!("SIGINT"),
            }
        }
        (Err(error), _) | (_, Err(error)) => {
            tracing::warn!(%error, "cannot listen for signals; running until killed");
            std::future::pending().await
        }
    }
}
