//! The plugin side of the CNI protocol, so that a plugin is only its verbs.
//!
//! [`run`] reads the environment and stdin exactly as the spec lays them out, validates them
//! per verb (which variables each verb requires, the config's `cniVersion`), calls the
//! [`Plugin`], and writes the result — or the spec's error JSON — on stdout. [`dispatch`] is
//! the same without process I/O, for tests.

mod env;
mod invocation;

use std::io::{Read, Write};
use std::process::ExitCode;

use podnet_cni_spec::{CniError, CniResult, CniVersion, NetConf, VersionInfo};

pub use env::{Command, Env};
pub use invocation::Invocation;

/// A CNI plugin: one method per verb. VERSION is answered by the skeleton.
pub trait Plugin {
    fn add(&self, inv: &Invocation) -> Result<CniResult, CniError>;
    fn check(&self, inv: &Invocation) -> Result<(), CniError>;
    fn del(&self, inv: &Invocation) -> Result<(), CniError>;
    fn status(&self, inv: &Invocation) -> Result<(), CniError>;
    fn gc(&self, inv: &Invocation) -> Result<(), CniError>;

    fn supported_versions(&self) -> &[CniVersion] {
        &CniVersion::ALL
    }
}

/// What the plugin process prints and how it exits.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub success: bool,
}

/// Logs to stderr only — stdout carries the CNI result — at `warn` unless `RUST_LOG` says
/// otherwise. A plugin binary's main calls this, then [`run`].
pub fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .init();
}

/// Runs `plugin` as a CNI plugin process.
pub fn run(plugin: &impl Plugin) -> ExitCode {
    let env = Env::from_process();
    let mut stdin = Vec::new();
    // VERSION may be called without stdin; everything else needs the config.
    if env.command.as_deref() != Some("VERSION")
        && let Err(e) = std::io::stdin().read_to_end(&mut stdin)
    {
        let err = CniError::io(format!("reading the network config from stdin: {e}"));
        return emit(&error_outcome(&err, CniVersion::LATEST.as_str()));
    }
    emit(&dispatch(plugin, &env, &stdin))
}

fn emit(outcome: &Outcome) -> ExitCode {
    let mut out = std::io::stdout().lock();
    // A runtime that closed our stdout can do nothing with an error about it.
    let _ = out.write_all(&outcome.stdout).and_then(|_| out.flush());
    if outcome.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Validates the invocation and calls the verb. Never panics on bad input.
pub fn dispatch(plugin: &impl Plugin, env: &Env, stdin: &[u8]) -> Outcome {
    let command = match env.command() {
        Ok(c) => c,
        Err(e) => return error_outcome(&e, &version_hint(stdin)),
    };
    if command == Command::Version {
        let info = VersionInfo::of(plugin.supported_versions());
        return json_outcome(serde_json::to_value(info).expect("version info serializes"));
    }
    let (conf, version) = match NetConf::decode(stdin) {
        Ok(ok) => ok,
        Err(e) => return error_outcome(&e, &version_hint(stdin)),
    };
    let span = tracing::info_span!("cni", command = ?command, network = %conf.name,
        container = env.container_id.as_deref().unwrap_or(""), ifname = env.ifname.as_deref().unwrap_or(""));
    let _enter = span.enter();
    let inv = match Invocation::new(command, env, stdin, conf, version, plugin) {
        Ok(inv) => inv,
        Err(e) => return error_outcome(&e, version.as_str()),
    };
    let result = match command {
        Command::Add => plugin.add(&inv).map(Some),
        Command::Check => plugin.check(&inv).map(|_| None),
        Command::Del => plugin.del(&inv).map(|_| None),
        Command::Status => plugin.status(&inv).map(|_| None),
        Command::Gc => plugin.gc(&inv).map(|_| None),
        Command::Version => unreachable!("answered above"),
    };
    match result {
        Ok(Some(res)) => json_outcome(res.to_json(version)),
        Ok(None) => Outcome {
            stdout: Vec::new(),
            success: true,
        },
        Err(e) => {
            tracing::warn!(code = e.code.0, msg = %e.msg, "command failed");
            error_outcome(&e, version.as_str())
        }
    }
}

fn json_outcome(v: serde_json::Value) -> Outcome {
    let mut stdout = serde_json::to_vec(&v).expect("json serializes");
    stdout.push(b'\n');
    Outcome {
        stdout,
        success: true,
    }
}

fn error_outcome(e: &CniError, version: &str) -> Outcome {
    let mut stdout = serde_json::to_vec(&e.to_json(version)).expect("json serializes");
    stdout.push(b'\n');
    Outcome {
        stdout,
        success: false,
    }
}

/// The config's `cniVersion` if it can be read at all, so errors answer in the caller's
/// version even when the rest of the config is broken.
fn version_hint(stdin: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(stdin)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_owned))
        .filter(|v| CniVersion::parse(v).is_ok())
        .unwrap_or_else(|| CniVersion::LATEST.to_string())
}

#[cfg(test)]
mod tests;
