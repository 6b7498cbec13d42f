//! Real-kernel tests of mounts made inside another process's mount namespace. Each test starts
//! its own process in a fresh, private mount namespace (`unshare --mount`) and kills it at
//! the end, which takes its mounts away with it.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use podnet_netns::mount::{Mount, Source, mount_in};

/// A `sleep` in a mount namespace of its own, killed on drop.
struct Holder(Child);

impl Holder {
    fn start() -> Self {
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sleep", "600"])
            .spawn()
            .expect("unshare runs");
        let holder = Holder(child);
        let ours = fs::metadata("/proc/self/ns/mnt").unwrap().ino();
        let deadline = Instant::now() + Duration::from_secs(30);
        // unshare execs sleep once the namespace is made: wait for it to be the process's.
        while fs::metadata(holder.ns()).map(|m| m.ino()).unwrap_or(ours) == ours {
            assert!(
                Instant::now() < deadline,
                "unshare never made its namespace"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        holder
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    fn ns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/mnt", self.pid()))
    }

    /// `path` as seen from inside the holder's mount namespace.
    fn inside(&self, path: &Path) -> PathBuf {
        Path::new(&format!("/proc/{}/root", self.pid())).join(path.strip_prefix("/").unwrap())
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn mount_bind_read_only_and_tmpfs_are_seen_inside_only() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fs::create_dir(&source).unwrap();
    fs::write(source.join("key"), "value").unwrap();
    let target = dir.path().join("not/there/yet");
    let scratch = dir.path().join("scratch");
    let holder = Holder::start();
    mount_in(
        holder.pid(),
        &[
            Mount {
                source: Source::Bind(source.clone()),
                target: target.clone(),
                read_only: true,
            },
            Mount {
                source: Source::Tmpfs {
                    size: Some(1 << 20),
                },
                target: scratch.clone(),
                read_only: false,
            },
        ],
    )
    .unwrap();
    let inside = holder.inside(&target);
    assert_eq!(fs::read_to_string(inside.join("key")).unwrap(), "value");
    let refused = fs::write(inside.join("new"), "x").unwrap_err();
    assert_eq!(
        refused.raw_os_error(),
        Some(nix::errno::Errno::EROFS as i32),
        "{refused}"
    );
    // Outside, the mount point exists (it was created) but nothing is mounted on it.
    assert!(target.is_dir());
    assert!(!target.join("key").exists(), "the bind mount leaked out");
    fs::write(holder.inside(&scratch).join("file"), "in tmpfs").unwrap();
    assert!(!scratch.join("file").exists(), "the tmpfs leaked out");
    let mountinfo = fs::read_to_string(format!("/proc/{}/mountinfo", holder.pid())).unwrap();
    let line = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(scratch.to_str().unwrap()))
        .expect("the tmpfs is in the holder's mount table");
    assert!(line.contains(" - tmpfs "), "{line}");
    assert!(
        !line.contains("shared:"),
        "mounts must not propagate: {line}"
    );
}

#[test]
fn mount_bind_of_a_file_creates_a_file_mount_point() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("config.txt");
    fs::write(&source, "one file").unwrap();
    let target = dir.path().join("etc/app.conf");
    let holder = Holder::start();
    let bind = Mount {
        source: Source::Bind(source),
        target: target.clone(),
        read_only: false,
    };
    mount_in(holder.pid(), &[bind]).unwrap();
    assert_eq!(
        fs::read_to_string(holder.inside(&target)).unwrap(),
        "one file"
    );
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "",
        "outside: the empty mount point"
    );
}

#[test]
fn mount_of_a_missing_source_names_the_target_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let holder = Holder::start();
    let bind = Mount {
        source: Source::Bind(dir.path().join("absent")),
        target: dir.path().join("target"),
        read_only: true,
    };
    let err = mount_in(holder.pid(), &[bind]).unwrap_err().to_string();
    assert!(err.contains("target: bind-mount:"), "{err}");
}

#[test]
fn mount_into_a_process_that_is_gone_fails_cleanly() {
    let err = mount_in(i32::MAX, &[]).unwrap_err().to_string();
    assert!(err.contains("open the mount namespace"), "{err}");
}
