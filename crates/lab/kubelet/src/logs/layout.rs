//! Where container logs live: the kubelet's `/var/log/pods` layout under the state dir,
//! `<state>/logs/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`, with the files a
//! rotation left beside the current one as `<restartCount>.log.<UTC time>`.

use std::path::{Path, PathBuf};

/// The directory of one pod's logs.
pub fn pod_log_dir(state_dir: &Path, namespace: &str, pod: &str, uid: &str) -> PathBuf {
    state_dir
        .join("logs")
        .join(format!("{namespace}_{pod}_{uid}"))
}

/// The directory of one container's logs, one file per instance (restart).
pub fn container_log_dir(
    state_dir: &Path,
    namespace: &str,
    pod: &str,
    uid: &str,
    container: &str,
) -> PathBuf {
    pod_log_dir(state_dir, namespace, pod, uid).join(container)
}

/// The file of the instance started after `restart_count` restarts.
pub fn instance_log_path(container_dir: &Path, restart_count: u32) -> PathBuf {
    container_dir.join(format!("{restart_count}.log"))
}

/// The log directory of a container of the newest pod named `namespace/pod` this kubelet ran
/// (pods are recreated under the same name with a new UID), if it has started there.
pub fn find_container_log_dir(
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
        .map(|e| e.path().join(container))
        .filter(|p| p.is_dir())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

/// The restart counts that have a log file in `container_dir`, lowest first.
pub fn instances(container_dir: &Path) -> Vec<u32> {
    let mut found: Vec<u32> = std::fs::read_dir(container_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".log")?.parse().ok())
        .collect();
    found.sort_unstable();
    found
}

/// The log file to read: the newest instance's, or with `previous` the one before it
/// (the instance that ran before the last restart). None if there is no such instance.
pub fn instance_to_read(container_dir: &Path, previous: bool) -> Option<PathBuf> {
    let found = instances(container_dir);
    let index = found.len().checked_sub(if previous { 2 } else { 1 })?;
    Some(instance_log_path(container_dir, found[index]))
}

/// The files a rotation left of `log` (`N.log.<time>`), oldest first.
pub fn rotated_files(log: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return vec![];
    };
    let prefix = format!("{name}.");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix) && !n.ends_with(".tmp"))
        })
        .map(|e| e.path())
        .collect();
    // The times sort as text.
    found.sort();
    found
}

/// Removes the files of instances older than `keep_from` (upstream keeps the current and
/// the previous instance of a container, for `logs --previous`).
pub fn remove_instances_before(container_dir: &Path, keep_from: u32) {
    for n in instances(container_dir)
        .into_iter()
        .filter(|&n| n < keep_from)
    {
        let log = instance_log_path(container_dir, n);
        for file in rotated_files(&log).into_iter().chain([log]) {
            if let Err(error) = std::fs::remove_file(&file) {
                tracing::warn!(path = %file.display(), %error, "removing an old container log");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "x").unwrap();
    }

    #[test]
    fn finds_the_newest_pod_of_a_name_and_not_a_longer_name() {
        let dir = tempfile::tempdir().unwrap();
        let old = container_log_dir(dir.path(), "ns1", "web", "u1", "c");
        let other = container_log_dir(dir.path(), "ns1", "web_x", "u3", "c");
        for d in [&old, &other] {
            touch(&instance_log_path(d, 0));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let new = container_log_dir(dir.path(), "ns1", "web", "u2", "c");
        touch(&instance_log_path(&new, 0));
        assert_eq!(
            find_container_log_dir(dir.path(), "ns1", "web", "c"),
            Some(new)
        );
        assert_eq!(
            find_container_log_dir(dir.path(), "ns1", "web", "nope"),
            None
        );
    }

    #[test]
    fn current_and_previous_instances_and_cleanup_of_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("c");
        assert_eq!(instance_to_read(&c, false), None);
        touch(&instance_log_path(&c, 0));
        assert_eq!(instance_to_read(&c, false), Some(c.join("0.log")));
        assert_eq!(instance_to_read(&c, true), None);
        for f in ["1.log", "1.log.20261207-101010.000001", "10.log", "2.log"] {
            touch(&c.join(f));
        }
        assert_eq!(instances(&c), [0, 1, 2, 10]);
        assert_eq!(instance_to_read(&c, false), Some(c.join("10.log")));
        assert_eq!(instance_to_read(&c, true), Some(c.join("2.log")));
        assert_eq!(
            rotated_files(&c.join("1.log")),
            [c.join("1.log.20261207-101010.000001")]
        );
        remove_instances_before(&c, 2);
        assert_eq!(instances(&c), [2, 10]);
        assert!(!c.join("1.log.20261207-101010.000001").exists());
    }
}
