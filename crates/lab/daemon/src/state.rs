//! Where a lab keeps its state, and the small files in it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::DaemonError;

/// Labs live under this directory unless `PODNET_LAB_STATE_DIR` (or `--state-dir`) says
/// otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/podnet/labs";
/// The environment variable naming the directory that holds the labs.
pub const ROOT_ENV: &str = "PODNET_LAB_STATE_DIR";

/// One lab's state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabDir {
    pub name: String,
    pub path: PathBuf,
}

// === impl LabDir ===

impl LabDir {
    /// The lab `name` under `root` (the directory holding every lab).
    pub fn new(root: &Path, name: &str) -> Self {
        LabDir {
            name: name.to_string(),
            path: root.join(name),
        }
    }

    /// Names of the labs under `root` (directories with a cluster config), sorted.
    pub fn list(root: &Path) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(root) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("cluster.yaml").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    pub fn exists(&self) -> bool {
        self.config_file().is_file()
    }

    pub fn config_file(&self) -> PathBuf {
        self.path.join("cluster.yaml")
    }

    pub fn store_dir(&self) -> PathBuf {
        self.path.join("store")
    }

    /// The lab's CA, API server certificate, signing key and components' kubeconfigs (see
    /// `pki`).
    pub fn pki_dir(&self) -> PathBuf {
        self.path.join("pki")
    }

    pub fn address_file(&self) -> PathBuf {
        self.path.join("address")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.path.join("kubeconfig")
    }

    /// The kubeconfig of the processes inside the lab (agents, kubelets, pods): the API
    /// server at its fabric address, 172.18.0.1:6443, the one they can reach.
    pub fn in_lab_kubeconfig(&self) -> PathBuf {
        self.path.join("kubeconfig.in-lab")
    }

    /// The kubeconfig of one of the lab's components (`kubelet-NODE`, `agent`, `coredns`):
    /// its own client certificate, the in-lab address (0600, beside the CA).
    pub fn component_kubeconfig(&self, component: &str) -> PathBuf {
        self.pki_dir().join(format!("{component}.kubeconfig"))
    }

    /// Per node: its CNI config, IPAM state and kubelet root.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.path.join("nodes").join(node)
    }

    /// The podnet CNI plugins the nodes use (links to the binaries next to `podnet`).
    pub fn cni_bin_dir(&self) -> PathBuf {
        self.path.join("cni-bin")
    }

    /// The resolv.conf of the nodes (and of dnsPolicy Default pods): the external host.
    pub fn node_resolv_conf(&self) -> PathBuf {
        self.path.join("resolv.conf")
    }

    /// A supervised process's pid file and `stopped` marker.
    pub fn component_dir(&self, c: &Component) -> PathBuf {
        self.path.join("run").join(&c.owner).join(&c.name)
    }

    pub fn component_pid_file(&self, c: &Component) -> PathBuf {
        self.component_dir(c).join("pid")
    }

    /// Present while `podnet lab stop OWNER/NAME` holds the process stopped.
    pub fn stopped_marker(&self, c: &Component) -> PathBuf {
        self.component_dir(c).join("stopped")
    }

    pub fn component_log(&self, c: &Component) -> PathBuf {
        self.path
            .join("logs")
            .join(&c.owner)
            .join(format!("{}.log", c.name))
    }

    pub fn pid_file(&self) -> PathBuf {
        self.path.join("daemon.pid")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.path.join("daemon.lock")
    }

    pub fn log_file(&self) -> PathBuf {
        self.path.join("daemon.log")
    }

    /// The API server's address, once a daemon has chosen it.
    pub fn address(&self) -> Result<Option<SocketAddr>, DaemonError> {
        let path = self.address_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(DaemonError::io(&path)(e)),
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| DaemonError::Corrupt {
                path,
                content: text,
            })
    }

    /// The cluster config `lab up` stored.
    pub fn cluster(&self) -> Result<podnet_lab_config::Parsed, DaemonError> {
        let path = self.config_file();
        let text = std::fs::read_to_string(&path).map_err(DaemonError::io(&path))?;
        podnet_lab_config::parse(&text).map_err(|source| DaemonError::Config { path, source })
    }

    /// Removes the whole state directory.
    pub fn remove(&self) -> Result<(), DaemonError> {
        match std::fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DaemonError::io(&self.path)(e)),
        }
    }
}

/// A process the daemon supervises: `owner` is a node's name or `external`, `name` what it
/// is (`agent`, `kubelet`, `http`, `dns`). Written `OWNER/NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Component {
    pub owner: String,
    pub name: String,
}

// === impl Component ===

impl Component {
    pub fn new(owner: &str, name: &str) -> Self {
        Component {
            owner: owner.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Writes `content` to `path` atomically (temp file, fsync, rename), so a reader never sees a
/// half-written file even if the writer is killed.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), DaemonError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(DaemonError::io(&tmp))?;
    f.write_all(content)
        .and_then(|()| f.sync_all())
        .map_err(DaemonError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(DaemonError::io(path))
}
