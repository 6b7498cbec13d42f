//! `kubectl attach` to a container started without `stdin` or `tty`: its output from the
//! moment of attaching, stdout and stderr apart, until the client leaves (the container goes
//! on) or the container's output ends (kubectl leaves with success).

#[path = "lab/support.rs"]
mod support;

use std::process::Stdio;

use support::{Lab, eventually, manifest, show};

const CHATTY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  containers:
  - name: talk
    image: busybox
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo out $i; echo err $i >&2; sleep 0.3; done"]
"#;

const BRIEF: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: brief
spec:
  restartPolicy: Never
  containers:
  - name: count
    image: busybox
    command: ["sh", "-c", "i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo left $i; sleep 0.3; done"]
"#;

/// The number of a `PREFIX N` line.
fn numbered(line: &str, prefix: &str) -> Option<u64> {
    line.strip_prefix(prefix)?.trim_end().parse().ok()
}

#[test]
fn kubectl_attach_streams_a_container_without_stdin_from_now_on_its_channels() {
    let lab = Lab::up("streamattach", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let chatty = manifest(tmp.path(), "chatty.yaml", CHATTY);
    lab.kubectl_ok(&["apply", "-f", chatty.to_str().unwrap()]);
    let before = eventually(60, "a few lines in the log", || {
        let out = lab.kubectl(&["logs", "chatty"]);
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| numbered(l, "out "))
            .max()?;
        (last >= 3).then_some(last)
    });

    let mut attach = lab
        .kubectl_command(&["attach", "chatty"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Each of kubectl's outputs read line by line in a thread, tagged with its name.
    let (tx, rx) = std::sync::mpsc::channel::<(&str, String)>();
    for (name, pipe) in [
        (
            "stdout",
            Box::new(attach.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        ("stderr", Box::new(attach.stderr.take().unwrap())),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(pipe)) {
                let Ok(line) = line else { break };
                if tx.send((name, line)).is_err() {
                    break;
                }
            }
        });
    }
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let seen =
        |lines: &Vec<String>, prefix| lines.iter().filter_map(|l| numbered(l, prefix)).count();
    eventually(60, "new lines on both of kubectl's outputs", || {
        while let Ok((name, line)) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            match name {
                "stdout" => stdout.push(line),
                _ => stderr.push(line),
            }
        }
        if let Some(status) = attach.try_wait().unwrap() {
            panic!("kubectl attach ended early ({status}): {stdout:?} {stderr:?}");
        }
        (seen(&stdout, "out ") >= 3 && seen(&stderr, "err ") >= 3).then_some(())
    });
    // The client goes; the container goes on.
    attach.kill().unwrap();
    let _ = attach.wait();
    let phase = lab.kubectl_ok(&["get", "pod", "chatty", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Running");

    // Only what was written after attaching, each line on its own stream.
    let first = stdout.iter().find_map(|l| numbered(l, "out ")).unwrap();
    assert!(
        first > before,
        "attach began at out {first}, the log already had out {before}: {stdout:?}"
    );
    assert!(stdout.iter().all(|l| l.starts_with("out ")), "{stdout:?}");
    assert!(!stderr.iter().any(|l| l.starts_with("out ")), "{stderr:?}");

    // A container whose output ends ends the session: kubectl leaves with success.
    let brief = manifest(tmp.path(), "brief.yaml", BRIEF);
    lab.kubectl_ok(&["apply", "-f", brief.to_str().unwrap()]);
    lab.kubectl_ok(&[
        "wait",
        "--for=condition=Ready",
        "pod/brief",
        "--timeout=60s",
    ]);
    let out = lab.kubectl(&["attach", "brief"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("left 30\n"),
        "{}",
        show(&out)
    );
}
