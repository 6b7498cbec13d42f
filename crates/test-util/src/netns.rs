use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Every namespace a test creates starts with this, so a sweep can find leftovers.
pub const TEST_PREFIX: &str = "pn-t-";

/// A name unique to this process and call: `pn-t-<tag>-<pid>-<n>`, at most 15 bytes of
/// tag so the whole stays readable in `ip netns list`.
pub fn unique_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let tag: String = tag.chars().take(15).collect();
    format!("{TEST_PREFIX}{tag}-{}-{n}", std::process::id())
}

/// A network namespace owned by a test, removed on drop. `lo` is brought up, as a pod's is.
#[derive(Debug)]
pub struct Netns {
    name: String,
    path: PathBuf,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        let name = unique_name(tag);
        let path = podnet_netns::create(&name)
            .unwrap_or_else(|e| panic!("creating test netns {name}: {e}"));
        let ns = Self { name, path };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a command inside the namespace and returns its stdout; panics on failure.
    pub fn exec(&self, argv: &[&str]) -> String {
        crate::run_in_netns(&self.name, argv)
    }

    /// Joins this namespace to `peer` with a veth pair, `name` here and `peer_name` there, both
    /// up and without addresses (the caller gives them theirs, or enslaves `name` to a bridge).
    pub fn veth(&self, name: &str, peer: &Netns, peer_name: &str) {
        self.exec(&[
            "ip",
            "link",
            "add",
            name,
            "type",
            "veth",
            "peer",
            "name",
            peer_name,
            "netns",
            peer.name(),
        ]);
        self.exec(&["ip", "link", "set", name, "up"]);
        peer.exec(&["ip", "link", "set", peer_name, "up"]);
    }

    /// Runs a command inside the namespace and returns (success, stdout, stderr).
    pub fn try_exec(&self, argv: &[&str]) -> (bool, String, String) {
        let mut full = vec!["ip", "netns", "exec", self.name.as_str()];
        full.extend_from_slice(argv);
        crate::run(&full)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = podnet_netns::delete(&self.name) {
            eprintln!("warning: deleting test netns {}: {e}", self.name);
        }
    }
}

/// Deletes test namespaces left by runs whose process is gone (killed before its guards ran).
pub fn sweep_leftovers() {
    let Ok(names) = podnet_netns::list(TEST_PREFIX) else {
        return;
    };
    for name in names {
        let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
        if !alive {
            let _ = podnet_netns::delete(&name);
        }
    }
}
