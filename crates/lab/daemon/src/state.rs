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

    pub fn address_file(&self) -> PathBuf {
        self.path.join("address")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.path.join("kubeconfig")
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
