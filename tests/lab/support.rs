//! A lab for one test: its own name and temporary state directory, always taken down on drop
//! (even when the test fails), and helpers to drive it with `podnet` and kubectl.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const PODNET: &str = env!("CARGO_BIN_EXE_podnet");

pub struct Lab {
    pub name: String,
    pub root: tempfile::TempDir,
    /// kubectl's HOME (its discovery cache), private to the test.
    home: tempfile::TempDir,
}

impl Lab {
    /// A lab not started yet.
    pub fn new(tag: &str) -> Self {
        Lab {
            name: format!("t-{tag}-{}", std::process::id()),
            root: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// `podnet lab up` with `args`; panics with its output if it fails.
    pub fn up(tag: &str, args: &[&str]) -> Self {
        let lab = Lab::new(tag);
        lab.ok(&[&["up"], args].concat());
        lab
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir().join("kubeconfig")
    }

    /// `podnet lab --name NAME --state-dir ROOT ARGS` (the lab's flags first: ARGS may end
    /// with `-- CMD…`).
    pub fn podnet(&self, args: &[&str]) -> Output {
        Command::new(PODNET)
            .arg("lab")
            .args(["--name", &self.name, "--state-dir"])
            .arg(self.root.path())
            .args(args)
            .output()
            .unwrap()
    }

    /// Like [`podnet`], and it must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.podnet(args);
        assert!(
            out.status.success(),
            "podnet lab {args:?} failed:\n{}",
            show(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// kubectl with its default flags, KUBECONFIG pointing at the lab and a private HOME.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(kubectl())
            .args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home.path())
            .output()
            .unwrap()
    }

    /// The kubectl command of [`kubectl`](Self::kubectl), to be given stdio and run.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl());
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.home.path());
        cmd
    }

    /// kubectl that must succeed; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}",
            show(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `podnet lab ARGS -o json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(&[args, &["-o", "json"]].concat())).unwrap()
    }

    /// `podnet lab exec POD -- CMD`; stdout when it succeeds, else a panic with its output.
    pub fn exec(&self, pod: &str, cmd: &[&str]) -> String {
        self.ok(&[&["exec", pod, "--"], cmd].concat())
    }

    /// The pid the daemon wrote.
    pub fn daemon_pid(&self) -> i32 {
        let text = std::fs::read_to_string(self.dir().join("daemon.pid")).unwrap();
        text.split_whitespace().next().unwrap().parse().unwrap()
    }

    pub fn address(&self) -> String {
        std::fs::read_to_string(self.dir().join("address"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// A kube client for the lab (inside a tokio runtime), from the admin's kubeconfig the
    /// daemon writes (HTTPS, a client certificate).
    pub fn client(&self) -> kube::Client {
        use kube::config::{KubeConfigOptions, Kubeconfig};
        let file = Kubeconfig::read_from(self.dir().join("kubeconfig")).unwrap();
        // Nothing in a certificate kubeconfig awaits the runtime (no exec plugin).
        let config = futures::executor::block_on(kube::Config::from_custom_kubeconfig(
            file,
            &KubeConfigOptions::default(),
        ))
        .unwrap();
        kube::Client::try_from(config).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir().join("daemon.pid")).ok();
        let _ = self.podnet(&["down"]);
        // If `down` itself is what broke, still leave no daemon behind.
        if let Some(pid) = pid.and_then(|p| p.split_whitespace().next()?.parse::<i32>().ok())
            && alive(pid)
            && is_our_daemon(pid, self.root.path())
        {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Whether `pid` is a running (not zombie) process.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| !r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn is_our_daemon(pid: i32, root: &Path) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("daemon") && cmdline.contains(&*root.to_string_lossy())
}

/// `kill -9 PID`, then waits until the process is gone.
pub fn kill9(pid: i32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) {
        assert!(Instant::now() < deadline, "pid {pid} survived kill -9");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn kubectl() -> String {
    std::env::var("PODNET_KUBECTL").unwrap_or_else(|_| "/opt/podnet/kubectl/bin/kubectl".into())
}

pub fn show(out: &Output) -> String {
    format!(
        "status: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Retries `f` until it returns Some, for up to `secs` seconds.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A manifest file in a temp dir.
pub fn manifest(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub const WEB: &str = include_str!("../../examples/lab/web.yaml");
