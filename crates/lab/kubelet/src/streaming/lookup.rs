//! Which running container a streaming request means, from the pod records this kubelet
//! keeps (so the server needs no access to the pod workers), and what an exec in it
//! inherits from the container's process: its environment and working directory.

use std::path::{Path, PathBuf};

use crate::container::PodNamespaces;
use crate::process::ProcessId;
use crate::state::{self, PodRecord};

/// A container's pod, as found for a streaming request.
pub(crate) struct Found {
    pub record: PodRecord,
    pub ns: PodNamespaces,
}

/// A running container.
pub(crate) struct Running {
    pub pod: Found,
    pub process: ProcessId,
}

/// Why a request names nothing to stream from; the kubelet's 404 bodies.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    Pod,
    Container(String),
}

// === impl Missing ===

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Missing::Pod => f.write_str("pod does not exist"),
            Missing::Container(name) => write!(f, "container not found ({name:?})"),
        }
    }
}

/// The running pod `namespace/name` of this kubelet (the newest record whose infra process
/// lives: a pod recreated under the same name has a new UID).
pub(crate) fn pod(state_dir: &Path, namespace: &str, name: &str) -> Result<Found, Missing> {
    state::load_all(state_dir)
        .into_iter()
        .filter(|r| r.namespace == namespace && r.name == name)
        .find_map(|record| {
            let infra = record.infra.filter(ProcessId::is_alive)?;
            let ns = PodNamespaces {
                infra,
                own_network: record.netns.is_some(),
            };
            Some(Found { record, ns })
        })
        .ok_or(Missing::Pod)
}

/// Container `container` of that pod, which must be running.
pub(crate) fn running(
    state_dir: &Path,
    namespace: &str,
    name: &str,
    container: &str,
) -> Result<Running, Missing> {
    let pod = pod(state_dir, namespace, name)?;
    let process = pod
        .record
        .containers
        .get(container)
        .and_then(|c| c.process)
        .filter(ProcessId::is_alive)
        .ok_or_else(|| Missing::Container(container.to_owned()))?;
    Ok(Running { pod, process })
}

/// The environment of a running process (`/proc/PID/environ`): an exec sees the
/// container's variables, as with a container runtime.
pub(crate) fn environment(process: ProcessId) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{}/environ", process.pid)).unwrap_or_default();
    parse_environ(&raw)
}

/// The working directory of a running process, as a path inside its mount namespace.
pub(crate) fn working_dir(process: ProcessId) -> Option<String> {
    let link: PathBuf = std::fs::read_link(format!("/proc/{}/cwd", process.pid)).ok()?;
    link.to_str().map(str::to_owned)
}

fn parse_environ(raw: &[u8]) -> Vec<(String, String)> {
    raw.split(|b| *b == 0)
        .filter_map(|entry| {
            let entry = std::str::from_utf8(entry).ok()?;
            let (k, v) = entry.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environ_entries_split_on_nul_and_the_first_equals() {
        let env = parse_environ(b"PATH=/bin:/usr/bin\0A=b=c\0\0junk\0");
        assert_eq!(
            env,
            [
                ("PATH".to_owned(), "/bin:/usr/bin".to_owned()),
                ("A".to_owned(), "b=c".to_owned())
            ]
        );
    }

    #[test]
    fn a_pod_without_a_live_infra_process_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        state::save(dir.path(), &PodRecord::new("ns1", "web", "u1")).unwrap();
        assert!(matches!(pod(dir.path(), "ns1", "web"), Err(Missing::Pod)));
        assert_eq!(Missing::Pod.to_string(), "pod does not exist");
        assert_eq!(
            Missing::Container("c".into()).to_string(),
            "container not found (\"c\")"
        );
    }
}
