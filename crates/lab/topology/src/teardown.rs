//! Removes everything a lab (or an earlier, crashed run of it) left in the kernel: every
//! process inside one of its namespaces, then the namespaces themselves — and with them
//! their links, addresses, routes and nftables tables.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::error::{Error, Result};
use crate::plan::Plan;

/// How long killed processes get to disappear before teardown gives up on them.
const REAP_WAIT: Duration = Duration::from_secs(5);

/// Ends every process in a namespace of lab `lab` (SIGKILL, by pid: only the lab starts
/// processes there) and removes the namespaces. Returns the namespaces removed.
pub fn teardown(lab: &str) -> Result<Vec<String>> {
    let prefix = Plan::prefix_of(lab);
    let names = podnet_netns::list(&prefix)?;
    for name in &names {
        for pid in podnet_netns::pids(&podnet_netns::path_of(name))? {
            tracing::debug!(netns = %name, pid, "killing a leftover lab process");
            // Gone already is fine.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    for name in &names {
        wait_empty(name)?;
        podnet_netns::delete(name)?;
    }
    if !names.is_empty() {
        tracing::info!(lab, namespaces = names.len(), "lab network removed");
    }
    Ok(names)
}

/// Until no process is left in namespace `name` (killed processes take a moment to exit).
fn wait_empty(name: &str) -> Result<()> {
    let path = podnet_netns::path_of(name);
    let deadline = Instant::now() + REAP_WAIT;
    loop {
        let pids = podnet_netns::pids(&path)?;
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Survivors {
                netns: name.to_owned(),
                pids,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
