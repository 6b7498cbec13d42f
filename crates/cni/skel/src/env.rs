//! The `CNI_*` environment variables, captured once so dispatch stays pure.

use std::ffi::OsString;

use podnet_cni_spec::CniError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Add,
    Check,
    Del,
    Status,
    Gc,
    Version,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Check => "CHECK",
            Command::Del => "DEL",
            Command::Status => "STATUS",
            Command::Gc => "GC",
            Command::Version => "VERSION",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Command::Add,
            Command::Check,
            Command::Del,
            Command::Status,
            Command::Gc,
            Command::Version,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The protocol's environment. Empty variables count as unset, as in the reference skel.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub command: Option<String>,
    pub container_id: Option<String>,
    pub netns: Option<String>,
    pub ifname: Option<String>,
    pub args: Option<String>,
    pub path: Option<OsString>,
}

impl Env {
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            command: var("CNI_COMMAND"),
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            args: var("CNI_ARGS"),
            path: std::env::var_os("CNI_PATH").filter(|v| !v.is_empty()),
        }
    }

    pub fn command(&self) -> Result<Command, CniError> {
        let raw = self
            .command
            .as_deref()
            .ok_or_else(|| CniError::invalid_env("required env variable CNI_COMMAND is missing"))?;
        Command::parse(raw).ok_or_else(|| {
            CniError::invalid_env(format!(
                "unknown CNI_COMMAND {raw:?}: expected ADD, CHECK, DEL, STATUS, GC or VERSION"
            ))
        })
    }
}
