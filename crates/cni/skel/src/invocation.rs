//! One validated call of a plugin: which variables each verb requires, and whether the
//! config's version allows the verb at all (CHECK needs 0.4.0, GC and STATUS need 1.1.0).

use std::path::PathBuf;

use podnet_base::IfName;
use podnet_cni_spec::{CniArgs, CniError, CniVersion, ErrorCode, NetConf};

use crate::Plugin;
use crate::env::{Command, Env};

#[derive(Clone, Debug)]
pub struct Invocation {
    pub command: Command,
    /// `CNI_CONTAINERID`; empty for GC and STATUS, which are not about one container.
    pub container_id: String,
    /// `CNI_NETNS`; DEL may come without it (the sandbox is already gone).
    pub netns: Option<PathBuf>,
    ifname: Option<IfName>,
    pub args: CniArgs,
    /// `CNI_PATH`, split: where delegated plugins are looked up.
    pub path: Vec<PathBuf>,
    /// The config exactly as received, for delegation to the IPAM plugin.
    pub stdin: Vec<u8>,
    pub conf: NetConf,
    pub version: CniVersion,
}

impl Invocation {
    pub(crate) fn new(
        command: Command,
        env: &Env,
        stdin: &[u8],
        conf: NetConf,
        version: CniVersion,
        plugin: &impl Plugin,
    ) -> Result<Self, CniError> {
        if !plugin.supported_versions().contains(&version) {
            return Err(CniError::new(
                ErrorCode::INCOMPATIBLE_VERSION,
                format!("incompatible CNI versions: this plugin does not support {version}"),
            ));
        }
        let allowed = match command {
            Command::Check => version.has_check(),
            Command::Gc | Command::Status => version.has_gc_and_status(),
            _ => true,
        };
        if !allowed {
            return Err(CniError::new(
                ErrorCode::INCOMPATIBLE_VERSION,
                format!(
                    "config version {version} does not allow {}",
                    command.as_str()
                ),
            ));
        }
        let per_container = matches!(command, Command::Add | Command::Check | Command::Del);
        let needs_netns = matches!(command, Command::Add | Command::Check);
        let container_id = match &env.container_id {
            Some(id) => validate_container_id(id)?,
            None if per_container => return Err(missing("CNI_CONTAINERID")),
            None => String::new(),
        };
        if needs_netns && env.netns.is_none() {
            return Err(missing("CNI_NETNS"));
        }
        let ifname = match &env.ifname {
            Some(name) => Some(
                IfName::new(name.clone())
                    .map_err(|e| CniError::invalid_env(format!("CNI_IFNAME: {e}")))?,
            ),
            None if per_container => return Err(missing("CNI_IFNAME")),
            None => None,
        };
        let path = match &env.path {
            Some(p) => std::env::split_paths(p).collect(),
            None => return Err(missing("CNI_PATH")),
        };
        let args = CniArgs::parse(env.args.as_deref().unwrap_or(""))?;
        Ok(Self {
            command,
            container_id,
            netns: env.netns.as_ref().map(PathBuf::from),
            ifname,
            args,
            path,
            stdin: stdin.to_vec(),
            conf,
            version,
        })
    }

    /// `CNI_IFNAME`; present for ADD, CHECK and DEL by construction.
    pub fn ifname(&self) -> Result<&IfName, CniError> {
        self.ifname.as_ref().ok_or_else(|| missing("CNI_IFNAME"))
    }
}

fn missing(var: &str) -> CniError {
    CniError::invalid_env(format!("required env variable {var} is missing"))
}

/// The spec's rule: an alphanumeric first character, then alphanumerics, `_`, `.` or `-`.
fn validate_container_id(id: &str) -> Result<String, CniError> {
    let mut chars = id.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(id.to_owned())
    } else {
        Err(CniError::invalid_env(format!(
            "CNI_CONTAINERID {id:?}: invalid characters; must start with a letter or digit, \
             followed by letters, digits, '_', '.' or '-'"
        )))
    }
}
