//! `podnet cni`: runs a CNI network's plugins against a network namespace, as upstream's
//! `cnitool` does, through the same runtime library the lab's kubelet uses. Results are
//! cached in libcni's layout, so `podnet cni`, cnitool and containerd can each CHECK or DEL
//! what another one added (the default container id is derived as cnitool derives it).

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use podnet_base::IfName;
use podnet_cni_runtime::{CniConfig, DEFAULT_CACHE_DIR, NetworkList, RuntimeConf};
use podnet_cni_spec::{CniArgs, ValidAttachment};
use serde_json::{Map, Value};
use sha2::{Digest, Sha512};

mod install;

/// Run a CNI network's plugins on a network namespace (what cnitool does)
#[derive(Debug, Args)]
pub struct CniCommand {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Attach NETNS to NETWORK (CNI ADD) and print the result
    #[command(after_help = "Example:\n  ip netns add pod1\n  \
        podnet cni add podnet pod1 --conf-dir examples/cni --cni-path target/debug:/usr/lib/cni \\\n    \
        --cap-args '{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"}]}'")]
    Add(AttachArgs),
    /// Check that NETNS is still attached as ADD left it (CNI CHECK)
    #[command(after_help = "Example:\n  \
        podnet cni check podnet pod1 --conf-dir examples/cni --cni-path target/debug:/usr/lib/cni")]
    Check(AttachArgs),
    /// Detach NETNS from NETWORK (CNI DEL); safe to repeat
    #[command(after_help = "Example:\n  \
        podnet cni del podnet pod1 --conf-dir examples/cni --cni-path target/debug:/usr/lib/cni")]
    Del(AttachArgs),
    /// Delete every cached attachment of NETWORK not listed with --valid, then send GC
    #[command(after_help = "Example (keep one attachment, collect the rest):\n  \
        podnet cni gc podnet --valid cnitool-0123456789abcdef0123/eth0 \\\n    \
        --conf-dir examples/cni --cni-path target/debug:/usr/lib/cni")]
    Gc(GcArgs),
    /// Ask NETWORK's plugins whether they can serve ADDs (CNI STATUS, cniVersion 1.1.0)
    #[command(after_help = "Example:\n  \
        podnet cni status podnet --conf-dir examples/cni --cni-path target/debug:/usr/lib/cni")]
    Status(NetworkArgs),
    /// Install the CNI plugins and this node's conflist on the host (the agent
    /// DaemonSet's init container)
    Install(install::InstallArgs),
}

/// Where configs, plugins and the result cache are.
#[derive(Debug, Args)]
struct Setup {
    /// Directory of network configs (*.conflist, *.conf, *.json)
    #[arg(long, env = "NETCONFPATH", default_value = "/etc/cni/net.d")]
    conf_dir: PathBuf,
    /// Plugin search path, ':'-separated
    #[arg(long, env = "CNI_PATH", default_value = "/opt/cni/bin:/usr/lib/cni")]
    cni_path: String,
    /// Result cache directory (libcni's layout, shared with containerd and cnitool)
    #[arg(long, default_value = DEFAULT_CACHE_DIR)]
    cache_dir: PathBuf,
}

#[derive(Debug, Args)]
struct NetworkArgs {
    /// Network name: the "name" of a config in --conf-dir
    network: String,
    #[command(flatten)]
    setup: Setup,
}

#[derive(Debug, Args)]
struct AttachArgs {
    /// Network name: the "name" of a config in --conf-dir
    network: String,
    /// Network namespace: a name under /run/netns, or a path
    netns: String,
    #[command(flatten)]
    setup: Setup,
    /// Interface name inside the namespace
    #[arg(long, env = "CNI_IFNAME", default_value = "eth0")]
    ifname: IfName,
    /// Container id [default: cnitool-<hash of the netns path>, as cnitool derives it]
    #[arg(long)]
    container_id: Option<String>,
    /// CNI_ARGS for the plugins, as K=V;K=V
    #[arg(long, env = "CNI_ARGS", default_value = "")]
    args: String,
    /// Capability arguments as a JSON object, e.g. '{"bandwidth":{"ingressRate":1000000,"ingressBurst":100000}}'
    #[arg(long, env = "CAP_ARGS")]
    cap_args: Option<String>,
}

#[derive(Debug, Args)]
struct GcArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// An attachment to keep, as CONTAINERID/IFNAME (repeatable)
    #[arg(long = "valid", value_name = "CONTAINERID/IFNAME", value_parser = parse_valid)]
    valid: Vec<ValidAttachment>,
}

pub fn run(cmd: CniCommand) -> anyhow::Result<()> {
    match cmd.verb {
        Verb::Install(a) => return install::run(a),
        Verb::Add(a) => {
            let (cni, list, rt) = a.prepare(true)?;
            let result = cni.add_network_list(&list, &rt).map_err(|e| {
                anyhow!(
                    "{e}\nnothing was undone: `podnet cni del {} {}` releases what the \
                     plugins before the failing one set up",
                    a.network,
                    a.netns
                )
            })?;
            let json = serde_json::to_string_pretty(&result.to_json(list.version))?;
            println!("{json}");
        }
        Verb::Check(a) => {
            let (cni, list, rt) = a.prepare(true)?;
            cni.check_network_list(&list, &rt)?;
        }
        Verb::Del(a) => {
            // DEL must work after the namespace is gone, so its absence is not checked.
            let (cni, list, rt) = a.prepare(false)?;
            cni.del_network_list(&list, &rt)?;
        }
        Verb::Gc(g) => {
            let (cni, list) = g.network.load()?;
            cni.gc_network_list(&list, &g.valid)?;
        }
        Verb::Status(n) => {
            let (cni, list) = n.load()?;
            if !list.version.has_gc_and_status() {
                eprintln!(
                    "note: network {:?} is cniVersion {}; STATUS needs 1.1.0, so its plugins \
                     are not asked and the network counts as ready",
                    list.name(),
                    list.version
                );
            }
            cni.status_network_list(&list)?;
        }
    }
    Ok(())
}

// === impl Setup ===

impl Setup {
    /// The runtime and the network named `network` in the config directory.
    fn load(&self, network: &str) -> anyhow::Result<(CniConfig, NetworkList)> {
        let list = podnet_cni_runtime::conf::find(&self.conf_dir, network)?;
        let path = std::env::split_paths(&self.cni_path).collect();
        Ok((CniConfig::new(path).with_cache_dir(&self.cache_dir), list))
    }
}

// === impl NetworkArgs ===

impl NetworkArgs {
    fn load(&self) -> anyhow::Result<(CniConfig, NetworkList)> {
        self.setup.load(&self.network)
    }
}

// === impl AttachArgs ===

impl AttachArgs {
    fn prepare(
        &self,
        netns_must_exist: bool,
    ) -> anyhow::Result<(CniConfig, NetworkList, RuntimeConf)> {
        let netns = netns_path(&self.netns)?;
        if netns_must_exist && !netns.exists() {
            bail!("network namespace {} does not exist", netns.display());
        }
        let container_id = self
            .container_id
            .clone()
            .unwrap_or_else(|| container_id_for(&netns));
        let args = CniArgs::parse(&self.args).context("--args")?;
        let caps = match &self.cap_args {
            None => Map::new(),
            Some(raw) => parse_cap_args(raw)?,
        };
        let rt = RuntimeConf::new(container_id, Some(netns), self.ifname.clone())
            .with_args(args)
            .with_capability_args(caps);
        let (cni, list) = self.setup.load(&self.network)?;
        Ok((cni, list, rt))
    }
}

/// A bare name is a namespace pinned by `ip netns add`; anything with a `/` is a path.
fn netns_path(arg: &str) -> anyhow::Result<PathBuf> {
    if arg.contains('/') {
        std::path::absolute(arg).with_context(|| format!("network namespace path {arg:?}"))
    } else {
        Ok(podnet_netns::path_of(arg))
    }
}

/// cnitool's container id: `cnitool-` and the first 10 bytes of the SHA-512 of the netns
/// path, in hex. Using the same id lets cnitool and `podnet cni` undo each other's work.
fn container_id_for(netns: &Path) -> String {
    let digest = Sha512::digest(netns.as_os_str().as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

fn parse_cap_args(raw: &str) -> anyhow::Result<Map<String, Value>> {
    match serde_json::from_str(raw).context("--cap-args (CAP_ARGS): not valid JSON")? {
        Value::Object(map) => Ok(map),
        other => bail!(
            "--cap-args (CAP_ARGS): expected a JSON object such as \
             '{{\"portMappings\":[…]}}', got {other}"
        ),
    }
}

fn parse_valid(raw: &str) -> Result<ValidAttachment, String> {
    match raw.split_once('/') {
        Some((id, ifname)) if !id.is_empty() && !ifname.is_empty() => Ok(ValidAttachment {
            container_id: id.to_owned(),
            ifname: ifname.to_owned(),
        }),
        _ => Err(format!("{raw:?}: expected CONTAINERID/IFNAME")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn container_id_is_derived_like_cnitool() {
        let id = container_id_for(Path::new("/run/netns/pod1"));
        assert!(id.starts_with("cnitool-"), "{id}");
        assert_eq!(id.len(), "cnitool-".len() + 20);
        assert_ne!(id, container_id_for(Path::new("/run/netns/pod2")));
    }

    #[test]
    fn netns_names_and_paths() {
        assert_eq!(netns_path("pod1").unwrap(), Path::new("/run/netns/pod1"));
        assert_eq!(
            netns_path("/proc/1/ns/net").unwrap(),
            Path::new("/proc/1/ns/net")
        );
        assert!(netns_path("./x").unwrap().is_absolute());
    }

    #[test]
    fn cap_args_must_be_an_object() {
        assert!(
            parse_cap_args(r#"{"mac":"aa:bb:cc:dd:ee:ff"}"#)
                .unwrap()
                .contains_key("mac")
        );
        let err = parse_cap_args("[1]").unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
    }

    #[test]
    fn valid_attachments_parse() {
        let v = parse_valid("abc/eth0").unwrap();
        assert_eq!(
            (v.container_id.as_str(), v.ifname.as_str()),
            ("abc", "eth0")
        );
        assert!(parse_valid("abc").is_err());
        assert!(parse_valid("/eth0").is_err());
    }

    #[test]
    fn flags_parse_with_defaults() {
        let cli = crate::Cli::try_parse_from([
            "podnet", "cni", "gc", "pods", "--valid", "c1/eth0", "--valid", "c2/net1",
        ])
        .unwrap();
        let crate::Command::Cni(CniCommand { verb: Verb::Gc(g) }) = cli.command else {
            panic!("not gc");
        };
        assert_eq!(g.valid.len(), 2);
        assert_eq!(g.network.setup.cache_dir, Path::new("/var/lib/cni"));
    }

    #[test]
    fn a_bad_ifname_is_refused_by_clap() {
        let err = crate::Cli::try_parse_from([
            "podnet",
            "cni",
            "add",
            "pods",
            "p1",
            "--ifname",
            "much-too-long-name0",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("at most 15"), "{err}");
    }
}
