//! Container logs in a lab, read with `podnet lab logs` from the kubelet's CRI log files: a
//! container that exits and is restarted keeps its previous instance's log (`-p`), stdout
//! and stderr both land, and the reader's options (`--tail`, `--timestamps`,
//! `--limit-bytes`, `--since`, `-f`) apply.

#[path = "lab/support.rs"]
mod support;

use support::{Lab, eventually, manifest, show};

/// Each run counts itself in a file of the test's (pods see the machine's filesystem),
/// prints its number on stdout and stderr, and fails after a while: restarted at once the
/// first time, then after a 10 s back-off.
fn crashing_pod(counter: &std::path::Path) -> String {
    let c = counter.display();
    format!(
        "\
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'n=$(($(cat {c} 2>/dev/null || echo 0) + 1)); echo $n > {c}; echo run $n; echo warn $n >&2; sleep 3; exit 1']
"
    )
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn lab_logs_previous_instance_after_a_restart_and_the_reader_options() {
    let lab = Lab::up("logs", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let pod = manifest(
        tmp.path(),
        "crash.yaml",
        &crashing_pod(&tmp.path().join("n")),
    );
    lab.kubectl_ok(&["apply", "-f", pod.to_str().unwrap()]);

    // The first instance's log, while it runs.
    eventually(90, "the first run's output", || {
        let out = lab.podnet(&["logs", "crash"]);
        (out.status.success() && String::from_utf8_lossy(&out.stdout).contains("run 1"))
            .then_some(())
    });
    let no_previous = lab.podnet(&["logs", "crash", "-p"]);
    let restarts = lab.kubectl_ok(&[
        "get",
        "pod",
        "crash",
        "-o",
        "jsonpath={.status.containerStatuses[0].restartCount}",
    ]);
    if restarts == "0" {
        assert!(!no_previous.status.success(), "{}", show(&no_previous));
        assert!(
            String::from_utf8_lossy(&no_previous.stderr)
                .contains("previous terminated container \"c\" in pod \"crash\" not found"),
            "{}",
            show(&no_previous)
        );
    }
    // A follow ends when the container exits.
    let followed = lab.ok(&["logs", "crash", "-f"]);
    assert!(followed.contains("run "), "{followed}");

    // After the restart: -p is the first run, the plain log the second.
    eventually(60, "one restart", || {
        let n = lab.kubectl_ok(&[
            "get",
            "pod",
            "crash",
            "-o",
            "jsonpath={.status.containerStatuses[0].restartCount}",
        ]);
        (n == "1").then_some(())
    });
    let previous = lab.ok(&["logs", "crash", "-p"]);
    assert_eq!(sorted_lines(&previous), ["run 1", "warn 1"], "{previous}");
    let current = eventually(30, "the second run's output", || {
        let out = lab.ok(&["logs", "crash", "-c", "c"]);
        (out.lines().count() == 2).then_some(out)
    });
    assert_eq!(sorted_lines(&current), ["run 2", "warn 2"], "{current}");

    // The reader's options, on the previous instance (complete, not changing).
    let tail = lab.ok(&["logs", "crash", "-p", "--tail", "1", "--timestamps"]);
    let (time, text) = tail.trim_end().split_once(' ').unwrap();
    assert!(text == "run 1" || text == "warn 1", "{tail}");
    assert_eq!(time.len(), "2026-12-07T10:00:00.000000000Z".len(), "{tail}");
    assert!(time.parse::<jiff::Timestamp>().is_ok(), "{tail}");
    let limited = lab.ok(&["logs", "crash", "-p", "--limit-bytes", "3"]);
    assert!(limited == "run" || limited == "war", "{limited}");
    assert_eq!(lab.ok(&["logs", "crash", "-p", "--since", "1h"]), previous);
    let since = lab.ok(&[
        "logs",
        "crash",
        "-p",
        "--since-time",
        "2999-01-01T00:00:00Z",
    ]);
    assert_eq!(since, "");
}
