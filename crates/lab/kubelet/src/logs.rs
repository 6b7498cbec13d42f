//! Container logs: one file per container, appended across its restarts, under
//! `<state>/logs/<namespace>_<pod>_<uid>/<container>.log` (the kubelet's `/var/log/pods`
//! layout). `podnet lab logs` finds them with [`find_log_path`].

use std::path::{Path, PathBuf};

/// The directory of one pod's logs.
pub fn pod_log_dir(state_dir: &Path, namespace: &str, pod: &str, uid: &str) -> PathBuf {
    state_dir
        .join("logs")
        .join(format!("{namespace}_{pod}_{uid}"))
}

/// The log file of one container of one pod (by UID).
pub fn log_path(
    state_dir: &Path,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
) -> PathBuf {
    pod_log_dir(state_dir, namespace, pod, uid).join(format!("{container}.log"))
}

/// The log file of a container of the newest pod named `namespace/pod` this kubelet ran
/// (pods are recreated under the same name with a new UID), if any.
pub fn find_log_path(
    state_dir: &Path,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Option<PathBuf> {
    let prefix = format!("{namespace}_{pod}_");
    std::fs::read_dir(state_dir.join("logs"))
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // The UID holds no '_', so the rest of the name must be the UID alone.
            name.strip_prefix(&prefix)
                .is_some_and(|uid| !uid.contains('_'))
        })
        .map(|e| e.path().join(format!("{container}.log")))
        .filter(|p| p.exists())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_newest_pod_of_a_name_and_not_a_longer_name() {
        let dir = tempfile::tempdir().unwrap();
        let old = log_path(dir.path(), "ns1", "web", "u1", "c");
        let other = log_path(dir.path(), "ns1", "web_x", "u3", "c");
        for p in [&old, &other] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let new = log_path(dir.path(), "ns1", "web", "u2", "c");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, "y").unwrap();
        assert_eq!(find_log_path(dir.path(), "ns1", "web", "c"), Some(new));
        assert_eq!(find_log_path(dir.path(), "ns1", "web", "nope"), None);
    }
}
