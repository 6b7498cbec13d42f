//! `/shell?cmd=`: runs a shell command and returns its combined output. This is what makes
//! netexec a test image — anyone who can reach the port runs commands in the pod — and it is
//! kept because e2e tests use it (reading files, checking routes from inside a pod).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};
use tracing::info;

use crate::go;

const SHELL: &str = "/bin/sh";

/// `{"output": …, "error": …}` as agnhost writes it: each field only when non-empty.
pub async fn run(cmd: &str) -> String {
    let cmd = cmd.to_owned();
    let (output, error) = tokio::task::spawn_blocking(move || combined_output(&cmd))
        .await
        .unwrap_or_else(|e| (Vec::new(), Some(format!("shell task failed: {e}"))));
    let mut object = Map::new();
    if let Some(error) = error {
        object.insert("error".to_owned(), error.into());
    }
    if !output.is_empty() {
        object.insert(
            "output".to_owned(),
            String::from_utf8_lossy(&output).into_owned().into(),
        );
    }
    info!(output = %String::from_utf8_lossy(&output), "shell command done");
    go::json(&Value::Object(object))
}

/// stdout and stderr interleaved in one pipe, as Go's `CombinedOutput`; the error as Go
/// words it (`exit status 1`, `signal: killed`).
fn combined_output(cmd: &str) -> (Vec<u8>, Option<String>) {
    let spawn_error = |e: std::io::Error| {
        (
            Vec::new(),
            Some(format!("fork/exec {SHELL}: {}", go::errno_text(&e))),
        )
    };
    let (mut reader, writer) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_error(e),
    };
    let stderr = match writer.try_clone() {
        Ok(w) => w,
        Err(e) => return spawn_error(e),
    };
    let mut command = Command::new(SHELL);
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr);
    let child = command.spawn();
    // The parent's copies of the write end must go, or reading never sees end of file.
    drop(command);
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return spawn_error(e),
    };
    let mut output = Vec::new();
    let _ = reader.read_to_end(&mut output);
    let error = match child.wait() {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(0), _) => None,
            (Some(code), _) => Some(format!("exit status {code}")),
            (None, Some(sig)) => Some(format!("signal: {}", signal_name(sig))),
            (None, None) => Some("unknown exit status".to_owned()),
        },
        Err(e) => Some(format!("wait: {}", go::errno_text(&e))),
    };
    (output, error)
}

/// The names Go gives the signals a shell command usually dies of.
fn signal_name(sig: i32) -> String {
    use nix::libc;
    match sig {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGINT => "interrupt".to_owned(),
        libc::SIGHUP => "hangup".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGPIPE => "broken pipe".to_owned(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_output_interleaves_and_reports_status_as_go() {
        let (out, err) = combined_output("echo out; echo err >&2; exit 3");
        assert_eq!(String::from_utf8_lossy(&out), "out\nerr\n");
        assert_eq!(err.as_deref(), Some("exit status 3"));
        let (out, err) = combined_output("kill -9 $$");
        assert!(out.is_empty());
        assert_eq!(err.as_deref(), Some("signal: killed"));
        assert_eq!(combined_output("true"), (Vec::new(), None));
    }
}
