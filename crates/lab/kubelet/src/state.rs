//! What survives a kubelet restart: one record per pod under `<state>/pods/<uid>/`, naming
//! the infra process, the pinned netns, the pod's IPs and each container's process, so a new
//! kubelet adopts running pods instead of starting them twice, and tears down those whose
//! pod is gone. Records are written atomically (temp file + rename).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::ProcessId;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The infra process holding the pod's namespaces.
    pub infra: Option<ProcessId>,
    /// Name of the pinned netns under /run/netns (None for hostNetwork pods).
    pub netns: Option<String>,
    /// True once CNI ADD succeeded: a teardown then owes a CNI DEL.
    pub network_attached: bool,
    pub pod_ips: Vec<IpAddr>,
    /// The `portMappings` CNI ADD was given, for a DEL made from the record alone.
    #[serde(default)]
    pub port_mappings: Vec<serde_json::Value>,
    pub start_time: Option<Time>,
    pub containers: BTreeMap<String, ContainerRecord>,
    /// True once the pod's volumes are mounted in the infra process's mount namespace (they
    /// go with it).
    #[serde(default)]
    pub volumes_mounted: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerRecord {
    pub process: Option<ProcessId>,
    pub restart_count: i32,
    pub started_at: Option<Time>,
}

// === impl PodRecord ===

impl PodRecord {
    pub fn new(namespace: &str, name: &str, uid: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
            infra: None,
            netns: None,
            network_attached: false,
            pod_ips: Vec::new(),
            port_mappings: Vec::new(),
            start_time: None,
            containers: BTreeMap::new(),
            volumes_mounted: false,
        }
    }

    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// `<state>/pods/<uid>`: the record and the pod's generated files.
pub fn pod_dir(state_dir: &Path, uid: &str) -> PathBuf {
    state_dir.join("pods").join(uid)
}

fn record_path(state_dir: &Path, uid: &str) -> PathBuf {
    pod_dir(state_dir, uid).join("record.json")
}

pub fn save(state_dir: &Path, record: &PodRecord) -> Result<()> {
    let dir = pod_dir(state_dir, &record.uid);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create the pod state dir", e))?;
    let path = record_path(state_dir, &record.uid);
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| Error::State {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, "write", e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, "rename into place", e))
}

/// Every readable record; unreadable ones are skipped with a warning (a crash mid-write
/// leaves only the temp file, which is ignored).
pub fn load_all(state_dir: &Path) -> Vec<PodRecord> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("pods")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("record.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        match serde_json::from_slice(&bytes) {
            Ok(record) => out.push(record),
            Err(error) => tracing::warn!(path = %path.display(), %error, "skipping pod record"),
        }
    }
    out
}

/// Removes a pod's state dir (record and generated files).
pub fn remove(state_dir: &Path, uid: &str) -> Result<()> {
    let dir = pod_dir(state_dir, uid);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(&dir, "remove the pod state dir", e))
        }
        _ => Ok(()),
    }
}

/// Where a pod's namespaces can be entered, for `podnet lab exec`: the infra process (its
/// `/proc/PID/ns/{net,mnt,uts}`) and the pinned netns path. None if this kubelet does not
/// run the pod or its infra process is gone.
pub fn pod_sandbox(state_dir: &Path, namespace: &str, name: &str) -> Option<SandboxInfo> {
    load_all(state_dir)
        .into_iter()
        .filter(|r| r.namespace == namespace && r.name == name)
        .find_map(|r| {
            let infra = r.infra.filter(ProcessId::is_alive)?;
            Some(SandboxInfo {
                infra_pid: infra.pid,
                netns: r.netns.map(|n| podnet_netns::path_of(&n)),
                pod_ips: r.pod_ips,
            })
        })
}

/// A running pod's namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxInfo {
    pub infra_pid: i32,
    /// The pinned netns (None for hostNetwork pods, which use the node's).
    pub netns: Option<PathBuf>,
    pub pod_ips: Vec<IpAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_removal_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = PodRecord::new("ns1", "web", "u-1");
        r.pod_ips.push("10.244.1.2".parse().unwrap());
        r.containers.insert(
            "c".into(),
            ContainerRecord {
                restart_count: 2,
                ..Default::default()
            },
        );
        save(dir.path(), &r).unwrap();
        let all = load_all(dir.path());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].containers["c"].restart_count, 2);
        assert_eq!(all[0].pod_ips, r.pod_ips);
        // Its infra process is not running: nothing to enter.
        assert_eq!(pod_sandbox(dir.path(), "ns1", "web"), None);
        remove(dir.path(), "u-1").unwrap();
        assert!(load_all(dir.path()).is_empty());
    }
}
