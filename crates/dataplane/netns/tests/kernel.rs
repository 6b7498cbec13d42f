//! Real-kernel tests: each namespace is created with a unique name and deleted on drop.

use std::fs;

fn unique(tag: &str) -> String {
    format!("pn-t-netns-{tag}-{}", std::process::id())
}

struct Pinned(String);
impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = podnet_netns::delete(&self.0);
    }
}

fn own_netns_inode() -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

#[test]
fn netns_create_enter_delete() {
    let name = unique("basic");
    let guard = Pinned(name.clone());
    let path = podnet_netns::create(&name).unwrap();
    assert!(
        podnet_netns::list("pn-t-netns-basic")
            .unwrap()
            .contains(&name)
    );
    let outside = own_netns_inode();
    let inside = podnet_netns::run_in(&path, own_netns_inode).unwrap();
    assert_ne!(outside, inside, "work must run in the other namespace");
    assert_eq!(
        own_netns_inode(),
        outside,
        "the caller's thread must not move"
    );
    // A fresh namespace has only lo. (/sys shows the mounting namespace, /proc the thread's.)
    let dev = podnet_netns::run_in(&path, || {
        fs::read_to_string("/proc/thread-self/net/dev").unwrap()
    })
    .unwrap();
    assert_eq!(dev.lines().count(), 3, "{dev}");
    drop(guard);
    assert!(!podnet_netns::path_of(&name).exists());
}

#[test]
fn netns_create_twice_is_refused() {
    let name = unique("twice");
    let _guard = Pinned(name.clone());
    podnet_netns::create(&name).unwrap();
    assert!(matches!(
        podnet_netns::create(&name),
        Err(podnet_netns::Error::Exists(_))
    ));
}

#[test]
fn netns_delete_of_missing_is_ok() {
    podnet_netns::delete(&unique("never")).unwrap();
}

#[test]
fn netns_pids_finds_exactly_the_processes_inside() {
    let name = unique("pids");
    let _guard = Pinned(name.clone());
    let path = podnet_netns::create(&name).unwrap();
    assert!(podnet_netns::pids(&path).unwrap().is_empty());
    // A child forked from a thread inside the namespace lives in it.
    let mut child = podnet_netns::run_in(&path, || {
        std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap()
    })
    .unwrap();
    let found = podnet_netns::pids(&path).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(found, vec![child.id() as i32]);
    assert!(
        !podnet_netns::pids(&path)
            .unwrap()
            .contains(&(std::process::id() as i32)),
        "the test process itself is outside"
    );
}
