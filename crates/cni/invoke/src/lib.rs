//! Executing a CNI plugin, for runtimes and for plugins that delegate (IPAM).
//!
//! The caller says which verb and for which attachment ([`Attachment`]); [`exec`] finds the
//! binary in `CNI_PATH`, runs it with exactly the spec's environment, and returns its stdout
//! or the error it reported (with its code kept). [`delegate`] adds the spec's version
//! fallback: a delegate that answers code 1 is asked for its versions and called again in
//! the highest one both sides speak, so a 1.1.0 network works over a 1.0.0 IPAM plugin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use podnet_cni_spec::{CniError, CniResult, CniVersion, ErrorCode, VersionInfo, decode};

/// Which attachment a call is about; empty fields are not passed.
#[derive(Clone, Debug, Default)]
pub struct Attachment {
    pub container_id: String,
    pub netns: Option<PathBuf>,
    pub ifname: String,
    pub args: String,
    pub path: Vec<PathBuf>,
}

/// Finds `plugin_type` in the search path, as runtimes do: first match wins.
pub fn find(plugin_type: &str, path: &[PathBuf]) -> Result<PathBuf, CniError> {
    if plugin_type.contains('/') {
        return Err(CniError::invalid_config(format!(
            "plugin type {plugin_type:?} must be a file name, not a path"
        )));
    }
    path.iter()
        .map(|dir| dir.join(plugin_type))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            CniError::new(
                ErrorCode::DELEGATE,
                format!("failed to find plugin {plugin_type:?} in path {path:?}"),
            )
        })
}

/// Runs `binary` for `command` with `stdin`; returns its stdout on success.
pub fn exec(
    binary: &Path,
    command: &str,
    at: &Attachment,
    stdin: &[u8],
) -> Result<Vec<u8>, CniError> {
    let mut cmd = Command::new(binary);
    cmd.env("CNI_COMMAND", command)
        .env(
            "CNI_PATH",
            std::env::join_paths(&at.path).unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Variables the verb does not use are removed, not inherited from our own environment.
    set_or_remove(&mut cmd, "CNI_CONTAINERID", &at.container_id);
    set_or_remove(&mut cmd, "CNI_IFNAME", &at.ifname);
    set_or_remove(&mut cmd, "CNI_ARGS", &at.args);
    match &at.netns {
        Some(ns) => cmd.env("CNI_NETNS", ns),
        None => cmd.env_remove("CNI_NETNS"),
    };
    let span = tracing::debug_span!("exec_plugin", plugin = %binary.display(), command);
    let _enter = span.enter();
    let mut child = cmd.spawn().map_err(|e| {
        CniError::new(
            ErrorCode::DELEGATE,
            format!("running plugin {}: {e}", binary.display()),
        )
    })?;
    // A plugin that exits without reading stdin (VERSION) closes the pipe: not an error.
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin);
    }
    let out = child.wait_with_output().map_err(|e| {
        CniError::new(
            ErrorCode::DELEGATE,
            format!("waiting for plugin {}: {e}", binary.display()),
        )
    })?;
    if !out.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&out.stderr), "plugin stderr");
    }
    if out.status.success() {
        return Ok(out.stdout);
    }
    Err(plugin_error(binary, &out.stdout, &out.stderr, out.status))
}

fn set_or_remove(cmd: &mut Command, key: &str, value: &str) {
    if value.is_empty() {
        cmd.env_remove(key);
    } else {
        cmd.env(key, value);
    }
}

/// The plugin's own error document if it printed one, else what it wrote.
fn plugin_error(
    binary: &Path,
    stdout: &[u8],
    stderr: &[u8],
    status: std::process::ExitStatus,
) -> CniError {
    if let Ok(err) = serde_json::from_slice::<CniError>(stdout) {
        return err;
    }
    let name = binary.file_name().unwrap_or_default().to_string_lossy();
    let said = String::from_utf8_lossy(if stdout.is_empty() { stderr } else { stdout });
    CniError::new(
        ErrorCode::DELEGATE,
        format!("plugin {name} failed ({status}): {}", said.trim()),
    )
}

/// Asks a plugin which versions it speaks.
pub fn versions(binary: &Path, conf_version: CniVersion) -> Result<VersionInfo, CniError> {
    let stdin = serde_json::json!({ "cniVersion": conf_version.as_str() }).to_string();
    let out = exec(binary, "VERSION", &Attachment::default(), stdin.as_bytes())?;
    decode::json(&out, "VERSION answer")
}

/// Calls a delegated plugin (the IPAM plugin named by `ipam.type`) with `conf`, falling
/// back to an older protocol version if the delegate does not speak `conf`'s. Returns
/// the parsed result for ADD, `None` for the other verbs.
pub fn delegate(
    plugin_type: &str,
    command: &str,
    at: &Attachment,
    conf: &[u8],
    version: CniVersion,
) -> Result<Option<CniResult>, CniError> {
    let binary = find(plugin_type, &at.path)?;
    let out = match exec(&binary, command, at, conf) {
        Err(e) if e.code == ErrorCode::INCOMPATIBLE_VERSION => {
            let downgraded = downgrade(&binary, conf, version).map_err(|_| e)?;
            exec(&binary, command, at, &downgraded)?
        }
        other => other?,
    };
    if command != "ADD" {
        return Ok(None);
    }
    decode::json(&out, &format!("result of plugin {plugin_type:?}")).map(Some)
}

/// `conf` rewritten to the highest version `binary` and podnet both speak, if lower.
fn downgrade(binary: &Path, conf: &[u8], version: CniVersion) -> Result<Vec<u8>, CniError> {
    let common = versions(binary, version)?
        .best_common()
        .filter(|v| *v < version)
        .ok_or_else(|| CniError::new(ErrorCode::INCOMPATIBLE_VERSION, "no common version"))?;
    let mut doc: serde_json::Value = decode::json(conf, "network config")?;
    doc["cniVersion"] = serde_json::Value::String(common.to_string());
    tracing::debug!(plugin = %binary.display(), from = %version, to = %common, "delegating in an older CNI version");
    Ok(serde_json::to_vec(&doc).expect("json serializes"))
}

/// Whether the delegate speaks `version` (GC and STATUS are only sent to those that do).
pub fn supports(plugin_type: &str, path: &[PathBuf], version: CniVersion) -> bool {
    find(plugin_type, path)
        .and_then(|b| versions(&b, version))
        .is_ok_and(|info| {
            info.supported_versions
                .iter()
                .any(|v| v == version.as_str())
        })
}
