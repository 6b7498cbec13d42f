use std::process::Command;

/// Runs `argv` and returns (success, stdout, stderr).
pub fn run(argv: &[&str]) -> (bool, String, String) {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap_or_else(|e| panic!("running {argv:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `argv`, panicking with its stderr if it fails; returns stdout.
pub fn run_ok(argv: &[&str]) -> String {
    let (ok, out, err) = run(argv);
    assert!(ok, "{argv:?} failed: {err}{out}");
    out
}

/// Runs `argv` inside the named network namespace; panics on failure.
pub fn run_in_netns(netns: &str, argv: &[&str]) -> String {
    let mut full = vec!["ip", "netns", "exec", netns];
    full.extend_from_slice(argv);
    run_ok(&full)
}
