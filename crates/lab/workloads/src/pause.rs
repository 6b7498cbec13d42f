//! agnhost's `pause`: prints `Paused` and waits. SIGINT exits 1 and SIGTERM exits 2, as
//! upstream (this is agnhost's pause, not the pod infra image's, which exits 0 and reaps
//! zombies); `--delay-shutdown` waits that many seconds first.

use std::io::Write;
use std::time::Duration;

use crate::args::PauseArgs;
use crate::{Result, sys};

const WORKLOAD: &str = "pause";

pub async fn run(args: PauseArgs) -> Result<i32> {
    let mut sigint = sys::sigint(WORKLOAD)?;
    let mut sigterm = sys::sigterm(WORKLOAD)?;
    say("Paused\n");
    let code = tokio::select! {
        _ = sigint.recv() => 1,
        _ = sigterm.recv() => 2,
    };
    if args.delay_shutdown > 0 {
        say(&format!(
            "Sleeping {} seconds before exit ...",
            args.delay_shutdown
        ));
        tokio::time::sleep(Duration::from_secs(args.delay_shutdown)).await;
    }
    say(&format!("exiting {code}\n"));
    Ok(code)
}

/// Upstream writes these to stdout, where `kubectl logs` shows them.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
