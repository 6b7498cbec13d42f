//! Shared by the bridge suites: a "node" namespace that the plugin runs in, pods, a plugin
//! directory holding podnet-cni, podnet-ipam and Debian's reference plugins, and calls of a
//! plugin binary exactly as a runtime makes them.

#![allow(dead_code)] // each suite uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use podnet_test_util::Netns;
use serde_json::{Value, json};

pub const REFERENCE_DIR: &str = "/usr/lib/cni";
pub const BRIDGE: &str = "cni-t0";
pub const NETWORK: &str = "podnet-test";

/// The IPAM plugins every suite runs with.
pub const HOST_LOCAL: &str = "host-local";
pub const PODNET_IPAM: &str = "podnet-ipam";

/// A node: its namespace, where the plugin runs, and its own IPAM data dir and plugin dir.
pub struct Node {
    pub ns: Netns,
    pub ipam: &'static str,
    pub data: tempfile::TempDir,
    pub bin: tempfile::TempDir,
}

/// What a plugin call printed, and whether it succeeded.
#[derive(Debug)]
pub struct Outcome {
    pub ok: bool,
    pub json: Value,
    pub stderr: String,
}

impl Node {
    pub fn new(tag: &str, ipam: &'static str) -> Self {
        let bin = tempfile::tempdir().unwrap();
        let links = [
            (
                "podnet-cni",
                PathBuf::from(env!("CARGO_BIN_EXE_podnet-cni")),
            ),
            (
                "podnet-ipam",
                PathBuf::from(env!("CARGO_BIN_EXE_podnet-ipam")),
            ),
            ("host-local", Path::new(REFERENCE_DIR).join("host-local")),
            ("bridge", Path::new(REFERENCE_DIR).join("bridge")),
        ];
        for (name, target) in links {
            std::os::unix::fs::symlink(target, bin.path().join(name)).unwrap();
        }
        Self {
            ns: Netns::new(tag),
            ipam,
            data: tempfile::tempdir().unwrap(),
            bin,
        }
    }

    /// A network config for `plugin` with the given subnets and extra keys.
    pub fn conf(&self, version: &str, plugin: &str, subnets: &[&str], extra: Value) -> Value {
        let ranges: Vec<Value> = subnets.iter().map(|s| json!([{ "subnet": s }])).collect();
        let mut conf = json!({
            "cniVersion": version, "name": NETWORK, "type": plugin, "bridge": BRIDGE,
            "ipam": { "type": self.ipam, "dataDir": self.data.path(), "ranges": ranges },
        });
        for (k, v) in extra.as_object().unwrap() {
            conf[k] = v.clone();
        }
        conf
    }

    /// Runs `plugin` inside the node's namespace, as a runtime on that node would.
    pub fn call(
        &self,
        plugin: &str,
        command: &str,
        container_id: &str,
        netns: Option<&Path>,
        ifname: &str,
        conf: &Value,
    ) -> Outcome {
        let child = self.spawn(plugin, command, container_id, netns, ifname, conf);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        Outcome {
            ok: out.status.success(),
            json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts `plugin` as [`Node::call`] does, its config written to its stdin, without
    /// waiting for it (to kill it mid-command).
    pub fn spawn(
        &self,
        plugin: &str,
        command: &str,
        container_id: &str,
        netns: Option<&Path>,
        ifname: &str,
        conf: &Value,
    ) -> Child {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.ns.name()])
            .arg(self.bin.path().join(plugin))
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_PATH", self.bin.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in [("CNI_CONTAINERID", container_id), ("CNI_IFNAME", ifname)] {
            if !v.is_empty() {
                cmd.env(k, v);
            }
        }
        if let Some(ns) = netns {
            cmd.env("CNI_NETNS", ns);
        }
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(conf.to_string().as_bytes())
            .unwrap();
        child
    }

    /// Runs a command in the node's namespace.
    pub fn exec(&self, argv: &[&str]) -> String {
        self.ns.exec(argv)
    }

    /// `ip -j` output parsed.
    pub fn ip_json(&self, args: &[&str]) -> Value {
        ip_json(&self.ns, args)
    }

    /// The addresses IPAM holds for `container_id` (host-local's on-disk layout, which
    /// podnet-ipam keeps: one file per address, holding the container id).
    pub fn allocated_to(&self, container_id: &str) -> Vec<String> {
        let dir = self.data.path().join(NETWORK);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .parse::<std::net::IpAddr>()
                    .is_ok()
            })
            .filter(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|c| c.lines().next() == Some(container_id))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    pub fn sysctl(&self, key: &str) -> String {
        self.exec(&["cat", &format!("/proc/sys/{}", key.replace('.', "/"))])
            .trim()
            .to_owned()
    }
}

pub fn ip_json(ns: &Netns, args: &[&str]) -> Value {
    let mut argv = vec!["ip", "-j", "-d"];
    argv.extend_from_slice(args);
    serde_json::from_str(&ns.exec(&argv)).unwrap()
}

/// The `ip -j -d link show DEV` object of a link, or `None` if it does not exist.
pub fn link(ns: &Netns, dev: &str) -> Option<Value> {
    let (ok, out, _) = ns.try_exec(&["ip", "-j", "-d", "link", "show", "dev", dev]);
    ok.then(|| serde_json::from_str::<Value>(&out).unwrap()[0].clone())
}

/// The global addresses of `dev` as "addr/prefix".
pub fn addresses(ns: &Netns, dev: &str) -> Vec<String> {
    let v = ip_json(ns, &["addr", "show", "dev", dev]);
    let mut out: Vec<String> = v[0]["addr_info"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["scope"] == "global")
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    out.sort();
    out
}

/// Routes of both families as "dst via gw" (dev, proto and metric left out), sorted.
pub fn routes(ns: &Netns) -> Vec<String> {
    let mut out = Vec::new();
    for family in ["-4", "-6"] {
        let v: Value =
            serde_json::from_str(&ns.exec(&["ip", "-j", family, "route", "show"])).unwrap();
        for r in v.as_array().unwrap() {
            let dst = r["dst"].as_str().unwrap();
            if dst.starts_with("fe80:") {
                continue;
            }
            match r["gateway"].as_str() {
                Some(gw) => out.push(format!("{dst} via {gw}")),
                None => out.push(dst.to_owned()),
            }
        }
    }
    out.sort();
    out
}

/// The veth on `bridge` in `ns` (the host end of a pod), by the pod end's peer index.
pub fn bridge_ports(ns: &Netns, bridge: &str) -> Vec<Value> {
    let v: Value =
        serde_json::from_str(&ns.exec(&["ip", "-j", "-d", "link", "show", "master", bridge]))
            .unwrap();
    v.as_array().unwrap().clone()
}
