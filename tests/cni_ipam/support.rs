//! Harness for the podnet-ipam suite: a network in a temp dataDir, and one call of a real
//! plugin binary (podnet-ipam or Debian's host-local) with the CNI environment.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use serde_json::{Value, json};

pub const PODNET_IPAM: &str = env!("CARGO_BIN_EXE_podnet-ipam");
pub const HOST_LOCAL: &str = "/usr/lib/cni/host-local";
pub const NETWORK: &str = "net1";
/// What `std::process::abort` dies of (6 on every Linux architecture).
const SIGABRT: i32 = 6;

/// A network config whose `ipam` state lives in a temp dir of its own.
pub struct Net {
    pub tmp: tempfile::TempDir,
    pub conf: Value,
    pub plugin: &'static str,
}

/// What a plugin printed and how it exited.
#[derive(Debug)]
pub struct Reply {
    pub status: ExitStatus,
    pub json: Value,
}

impl Net {
    /// `ipam` gets `type` and `dataDir` filled in; the config speaks CNI 1.1.0.
    pub fn new(mut ipam: Value) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        ipam["type"] = json!("podnet-ipam");
        ipam["dataDir"] = json!(tmp.path());
        let conf = json!({"cniVersion": "1.1.0", "name": NETWORK, "type": "bridge", "ipam": ipam});
        Self {
            tmp,
            conf,
            plugin: PODNET_IPAM,
        }
    }

    pub fn ranges(sets: Value) -> Self {
        Self::new(json!({ "ranges": sets }))
    }

    pub fn version(mut self, v: &str) -> Self {
        self.conf["cniVersion"] = json!(v);
        self
    }

    pub fn with_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    pub fn state_dir(&self) -> PathBuf {
        self.tmp.path().join(NETWORK)
    }

    pub fn call(&self, verb: &str, id: &str, ifname: &str) -> Reply {
        self.call_with(verb, id, ifname, &self.conf, &[])
    }

    pub fn call_with(
        &self,
        verb: &str,
        id: &str,
        ifname: &str,
        conf: &Value,
        env: &[(&str, &str)],
    ) -> Reply {
        let child = self.spawn(verb, id, ifname, conf, env);
        let out = child.wait_with_output().unwrap();
        let json = if out.stdout.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{verb} printed no JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stdout)
                )
            })
        };
        Reply {
            status: out.status,
            json,
        }
    }

    /// Starts the plugin without waiting, for concurrent calls.
    pub fn spawn(
        &self,
        verb: &str,
        id: &str,
        ifname: &str,
        conf: &Value,
        env: &[(&str, &str)],
    ) -> Child {
        let mut cmd = Command::new(self.plugin);
        cmd.env_clear()
            .env("CNI_COMMAND", verb)
            .env("CNI_PATH", "/usr/lib/cni")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if !id.is_empty() {
            cmd.env("CNI_CONTAINERID", id)
                .env("CNI_NETNS", "/proc/self/ns/net");
        }
        if !ifname.is_empty() {
            cmd.env("CNI_IFNAME", ifname);
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // VERSION may exit without reading its stdin.
        match stdin.write_all(&serde_json::to_vec(conf).unwrap()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
            _ => {}
        }
        drop(stdin);
        child
    }

    /// ADD that must succeed; the addresses it returned, in order.
    pub fn add(&self, id: &str) -> Vec<String> {
        let r = self.call("ADD", id, "eth0");
        r.ok();
        addresses(&r.json)
    }

    pub fn del(&self, id: &str) {
        self.call("DEL", id, "eth0").ok();
    }

    pub fn gc(&self, valid: &[(&str, &str)]) -> Reply {
        let mut conf = self.conf.clone();
        let list: Vec<Value> = valid
            .iter()
            .map(|(id, ifname)| json!({"containerID": id, "ifname": ifname}))
            .collect();
        conf["cni.dev/valid-attachments"] = json!(list);
        self.call_with("GC", "", "", &conf, &[])
    }

    /// Every file of the network's state (the lock excepted), name → content.
    pub fn files(&self) -> BTreeMap<String, String> {
        files_of(&self.state_dir())
    }

    /// Reservations only: address → "containerID/ifname".
    pub fn reservations(&self) -> BTreeMap<String, String> {
        self.files()
            .into_iter()
            .filter(|(name, _)| name.parse::<std::net::IpAddr>().is_ok())
            .map(|(ip, owner)| (ip, owner.replace("\r\n", "/")))
            .collect()
    }

    pub fn held_by(&self, id: &str) -> Vec<String> {
        let owner = format!("{id}/eth0");
        self.reservations()
            .into_iter()
            .filter(|(_, o)| *o == owner)
            .map(|(ip, _)| ip)
            .collect()
    }
}

pub fn files_of(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|name| name != "lock")
        .map(|name| {
            let content = std::fs::read_to_string(dir.join(&name)).unwrap();
            (name, content)
        })
        .collect()
}

pub fn addresses(result: &Value) -> Vec<String> {
    result["ips"]
        .as_array()
        .unwrap_or_else(|| panic!("no ips in {result}"))
        .iter()
        .map(|ip| ip["address"].as_str().unwrap().to_owned())
        .collect()
}

impl Reply {
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            self.status.success(),
            "expected success, got {:?}: {}",
            self.status,
            self.json
        );
        &self.json
    }

    /// The error document, asserting failure with `code`.
    #[track_caller]
    pub fn err(&self, code: u64) -> &str {
        assert!(
            !self.status.success(),
            "expected error {code}, got success: {}",
            self.json
        );
        assert_eq!(self.json["code"], code, "{}", self.json);
        self.json["msg"].as_str().unwrap()
    }

    pub fn aborted(&self) -> bool {
        self.status.signal() == Some(SIGABRT)
    }
}
