//! The outside world's DNS: Knot DNS on the external host (203.0.113.10:53), authoritative
//! for a small test zone, `example.test` (RFC 6761 keeps `.test` for testing). It is the
//! nodes' resolver and the cluster DNS's upstream, so a pod resolving an outside name goes
//! the whole way: pod → cluster DNS → forward → the external host.

use std::ffi::OsString;
use std::path::PathBuf;

use podnet_lab_topology::EXTERNAL_IP;

use crate::error::DaemonError;
use crate::state::{LabDir, write_atomic};

/// The Knot DNS server binary (Debian package `knot`).
pub const KNOTD: &str = "/usr/sbin/knotd";
/// The zone the external host serves.
pub const ZONE: &str = "example.test";

/// Writes the server's config and zone file into the lab's state directory; refuses to go
/// on without knotd, naming the package.
pub fn prepare(lab: &LabDir) -> Result<(), DaemonError> {
    if !std::path::Path::new(KNOTD).is_file() {
        return Err(DaemonError::MissingBinary {
            path: KNOTD.into(),
            package: "knot",
        });
    }
    let dir = dir(lab);
    std::fs::create_dir_all(&dir).map_err(DaemonError::io(&dir))?;
    write_atomic(&dir.join(format!("{ZONE}.zone")), zone().as_bytes())?;
    write_atomic(&config_path(lab), config(&dir).as_bytes())
}

/// `knotd`'s command line: the config, in the foreground.
pub fn args(lab: &LabDir) -> Vec<OsString> {
    vec!["-c".into(), config_path(lab).into()]
}

fn dir(lab: &LabDir) -> PathBuf {
    lab.path.join("external").join("dns")
}

fn config_path(lab: &LabDir) -> PathBuf {
    dir(lab).join("knot.conf")
}

fn config(dir: &std::path::Path) -> String {
    let dir = dir.display();
    format!(
        "server:\n    rundir: \"{dir}\"\n    listen: {EXTERNAL_IP}@53\n\
         log:\n  - target: stderr\n    any: info\n\
         database:\n    storage: \"{dir}\"\n\
         template:\n  - id: default\n    storage: \"{dir}\"\n    file: \"%s.zone\"\n\
         zone:\n  - domain: {ZONE}\n"
    )
}

/// A few names a test (or a curious user) resolves from inside a pod.
fn zone() -> String {
    format!(
        "$ORIGIN {ZONE}.\n$TTL 300\n\
         @ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300\n\
         @ NS ns.{ZONE}.\n\
         @ A {EXTERNAL_IP}\n\
         ns A {EXTERNAL_IP}\n\
         www A {EXTERNAL_IP}\n\
         www AAAA 2001:db8::10\n\
         alias CNAME www.{ZONE}.\n\
         @ TXT \"the podnet lab's outside world\"\n\
         _http._tcp SRV 0 0 80 www.{ZONE}.\n"
    )
}
