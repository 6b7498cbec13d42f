//! podnet-ipam over whatever it may find in its data dir (reservations with any content,
//! names that are addresses in or out of the ranges, stale markers, crashed writers' temp
//! files, anything else), then a sequence of ADD, DEL, CHECK, GC and STATUS through the
//! plugin's real entry point. Nothing panics, and after each verb the state says what the
//! verb promised: an ADD's addresses are in the ranges and held by that attachment alone,
//! nothing of a deleted attachment is left, and after GC only valid attachments hold
//! anything.

use std::net::IpAddr;
use std::path::Path;

use arbitrary::Arbitrary;
use podnet_cni_ipam::store::{LAST_RESERVED_PREFIX, TEMP_PREFIX};
use podnet_cni_ipam::{Attachment, CrashHook, IpamPlugin, Reservation, Store};
use podnet_cni_skel::{Env, dispatch};
use podnet_cni_spec::CniResult;

const NETWORK: &str = "fuzznet";
const V4: &str = "10.1.0.0/28";
const V6: &str = "fd00::/124";

#[derive(Arbitrary, Debug)]
struct Input {
    files: Vec<(FileName, Vec<u8>)>,
    verbs: Vec<Verb>,
}

#[derive(Arbitrary, Debug)]
enum FileName {
    V4(u8),
    V6(u8),
    /// An IPv6 address spelled out in full (not how either plugin names a file).
    V6Long(u8),
    Marker(u8),
    Temp(u8),
    Other(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Who {
    container: u8,
    ifname: u8,
}

#[derive(Arbitrary, Debug)]
enum Verb {
    Add(Who),
    Del(Who),
    Check(Who),
    Gc(Vec<Who>),
    Status,
}

// === impl FileName ===

impl FileName {
    fn render(&self) -> Option<String> {
        Some(match self {
            FileName::V4(i) => format!("10.1.0.{}", i % 20),
            FileName::V6(i) => format!("fd00::{:x}", i % 20),
            FileName::V6Long(i) => format!("fd00:0:0:0:0:0:0:{:x}", i % 20),
            FileName::Marker(i) => format!("{LAST_RESERVED_PREFIX}{}", i % 3),
            FileName::Temp(i) => format!("{TEMP_PREFIX}1.10.1.0.{}", i % 20),
            FileName::Other(s) if valid_file_name(s) => s.clone(),
            FileName::Other(_) => return None,
        })
    }
}

fn valid_file_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s != "lock"
        && !s.contains(['/', '\0'])
        && s.len() < 200
}

// === impl Who ===

impl Who {
    fn container_id(self) -> String {
        format!("c{}", self.container % 4)
    }

    fn ifname(self) -> String {
        format!("eth{}", self.ifname % 2)
    }

    fn attachment(self) -> Attachment {
        Attachment::new(self.container_id(), self.ifname())
    }

    fn env(self, command: &str) -> Env {
        Env {
            command: Some(command.into()),
            container_id: Some(self.container_id()),
            netns: Some("/var/run/netns/fuzz".into()),
            ifname: Some(self.ifname()),
            ..plugin_env(command)
        }
    }
}

/// What every invocation carries: the verb and `CNI_PATH` (required by the spec for each).
fn plugin_env(command: &str) -> Env {
    Env {
        command: Some(command.into()),
        path: Some("/opt/cni/bin".into()),
        ..Env::default()
    }
}

fn config(data_dir: &Path, valid: Option<&[Who]>) -> Vec<u8> {
    let mut conf = serde_json::json!({
        "cniVersion": "1.1.0",
        "name": NETWORK,
        "type": "podnet-ipam",
        "ipam": {
            "type": "podnet-ipam",
            "dataDir": data_dir,
            "ranges": [[{"subnet": V4}], [{"subnet": V6}]],
        },
    });
    if let Some(valid) = valid {
        conf["cni.dev/valid-attachments"] = valid
            .iter()
            .map(|w| serde_json::json!({"containerID": w.container_id(), "ifname": w.ifname()}))
            .collect();
    }
    serde_json::to_vec(&conf).unwrap()
}

fn reservations(dir: &Path) -> Vec<Reservation> {
    let store = Store::open(dir, CrashHook::default()).expect("the store opens");
    let all = store.scan().expect("the store reads");
    store.unlock();
    all
}

/// One input; panics on what the input must not break.
pub fn ipam_state(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(arbitrary::Unstructured::new(data)) else {
        return;
    };
    let tmp = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let net_dir = tmp.path().join(NETWORK);
    std::fs::create_dir_all(&net_dir).unwrap();
    for (name, content) in &input.files {
        if let Some(name) = name.render() {
            let _ = std::fs::write(net_dir.join(name), content);
        }
    }
    let plugin = IpamPlugin::default();
    for verb in input.verbs.iter().take(12) {
        match verb {
            Verb::Add(who) => {
                let out = dispatch(&plugin, &who.env("ADD"), &config(tmp.path(), None));
                if !out.success {
                    continue;
                }
                let result: CniResult =
                    serde_json::from_slice(&out.stdout).expect("ADD prints a result");
                assert_eq!(result.ips.len(), 2, "one address per range set");
                let held = reservations(&net_dir);
                for ip in &result.ips {
                    let addr = ip.address.addr();
                    let range = if addr.is_ipv4() { V4 } else { V6 };
                    assert!(
                        range.parse::<ipnet::IpNet>().unwrap().contains(&addr),
                        "{addr} in {range}"
                    );
                    let holders: Vec<&Reservation> = held.iter().filter(|r| r.ip == addr).collect();
                    assert!(
                        !holders.is_empty()
                            && holders.iter().all(|r| r.is_owned_by(&who.attachment())),
                        "{addr} is held by {:?} alone: {holders:?}",
                        who.attachment()
                    );
                }
            }
            Verb::Del(who) => {
                let out = dispatch(&plugin, &who.env("DEL"), &config(tmp.path(), None));
                assert!(
                    out.success,
                    "DEL succeeds: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
                let left: Vec<IpAddr> = reservations(&net_dir)
                    .iter()
                    .filter(|r| r.is_owned_by(&who.attachment()))
                    .map(|r| r.ip)
                    .collect();
                assert!(
                    left.is_empty(),
                    "{:?} still holds {left:?} after DEL",
                    who.attachment()
                );
            }
            Verb::Check(who) => {
                let _ = dispatch(&plugin, &who.env("CHECK"), &config(tmp.path(), None));
            }
            Verb::Gc(valid) => {
                let out = dispatch(&plugin, &plugin_env("GC"), &config(tmp.path(), Some(valid)));
                assert!(
                    out.success,
                    "GC succeeds: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
                for r in reservations(&net_dir) {
                    assert!(
                        valid.iter().any(|w| r.is_owned_by(&w.attachment())),
                        "{r:?} survived GC without a valid attachment"
                    );
                }
            }
            Verb::Status => {
                let _ = dispatch(&plugin, &plugin_env("STATUS"), &config(tmp.path(), None));
            }
        }
    }
}
