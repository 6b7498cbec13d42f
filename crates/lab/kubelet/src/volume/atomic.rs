//! The kubelet's atomic writer layout for API-data volumes, so that a process reading a
//! volume never sees half an update:
//!
//! ```text
//! DIR/..2026_12_07_19_00_00.123456789/<the files>   one directory per version
//! DIR/..data -> ..2026_12_07_19_00_00.123456789      swapped by rename(2), atomically
//! DIR/<top-level name> -> ..data/<top-level name>    what users open
//! ```
//!
//! A write that would not change anything does nothing, so the version directory (and the
//! inode of every file) only changes when the content does.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::plan::{File, Files};

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Makes `dir` hold exactly `files`; returns whether anything changed.
pub(crate) fn write(dir: &Path, files: &Files) -> io::Result<bool> {
    fs::create_dir_all(dir)?;
    let current = fs::read_link(dir.join(DATA)).ok();
    if let Some(version) = &current
        && same(&dir.join(version), files)
    {
        return Ok(false);
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    let version = format!("..{}", now.strftime("%Y_%m_%d_%H_%M_%S.%f"));
    let staged = dir.join(&version);
    fs::create_dir(&staged)?;
    for (path, File { data, mode }) in files {
        let target = staged.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&target, data)?;
        fs::set_permissions(&target, fs::Permissions::from_mode(*mode))?;
    }
    let tmp = dir.join(DATA_TMP);
    let _ = fs::remove_file(&tmp);
    symlink(&version, &tmp)?;
    fs::rename(&tmp, dir.join(DATA))?;
    let visible: BTreeSet<&str> = files.keys().filter_map(|p| p.split('/').next()).collect();
    for name in &visible {
        let link = dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(name), &link)?;
        }
    }
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        let stale_link = !name.starts_with("..") && !visible.contains(name.as_ref());
        let old_version = name.starts_with("..") && *name != *version && name != DATA;
        if stale_link {
            fs::remove_file(dir.join(name.as_ref()))?;
        } else if old_version {
            fs::remove_dir_all(dir.join(name.as_ref()))?;
        }
    }
    Ok(true)
}

/// Whether the version directory holds exactly `files`, with their modes.
fn same(version: &Path, files: &Files) -> bool {
    let mut found = BTreeSet::new();
    if !collect(version, version, &mut found) || found.len() != files.len() {
        return false;
    }
    files.iter().all(|(path, f)| {
        let p = version.join(path);
        let mode = fs::metadata(&p).map(|m| m.permissions().mode() & 0o777);
        mode.is_ok_and(|m| m == f.mode) && fs::read(&p).is_ok_and(|d| d == f.data)
    })
}

/// The regular files under `dir`, as paths relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut BTreeSet<String>) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if !collect(root, &path, out) {
                return false;
            }
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.insert(rel.to_string_lossy().into_owned());
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(k, v)| {
                let file = File {
                    data: v.as_bytes().to_vec(),
                    mode: 0o644,
                };
                (k.to_string(), file)
            })
            .collect()
    }

    #[test]
    fn writes_versions_behind_the_data_link_and_swaps_only_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(write(d, &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert_eq!(fs::read_to_string(d.join("a")).unwrap(), "1");
        assert_eq!(fs::read_to_string(d.join("sub/b")).unwrap(), "2");
        assert_eq!(fs::read_link(d.join("a")).unwrap(), Path::new("..data/a"));
        let first = fs::read_link(d.join(DATA)).unwrap();
        assert!(first.to_string_lossy().starts_with("..20"), "{first:?}");

        assert!(!write(d, &files(&[("a", "1"), ("sub/b", "2")])).unwrap());
        assert_eq!(
            fs::read_link(d.join(DATA)).unwrap(),
            first,
            "no change, no swap"
        );

        assert!(write(d, &files(&[("a", "changed")])).unwrap());
        assert_eq!(fs::read_to_string(d.join("a")).unwrap(), "changed");
        assert!(!d.join("sub").exists(), "a key that went away goes");
        assert!(!d.join(&first).exists(), "the old version is removed");
        let names: BTreeSet<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn modes_are_part_of_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = files(&[("key", "x")]);
        write(dir.path(), &f).unwrap();
        f.get_mut("key").unwrap().mode = 0o400;
        assert!(write(dir.path(), &f).unwrap());
        let mode = fs::metadata(dir.path().join("key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
    }
}
