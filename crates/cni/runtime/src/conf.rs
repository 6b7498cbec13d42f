//! Network configurations on disk, found as libcni finds them.
//!
//! A directory holds `*.conflist` files (a list of plugins) and, the older format, `*.conf`
//! / `*.json` files (one plugin), each sorted by file name. Looking a network up by name
//! ([`find`]) searches the conflists first and the single-plugin files second, as libcni's
//! `LoadConfList` does; [`load_all`] returns every valid file in name order, which is how
//! containerd picks its default network (the first one).

use std::path::{Path, PathBuf};

use podnet_cni_spec::{CniError, CniVersion, NetConfList};
use serde_json::{Value, json};

use crate::error::Error;

const LIST_EXTENSIONS: &[&str] = &["conflist"];
const SINGLE_EXTENSIONS: &[&str] = &["conf", "json"];

/// A loaded, validated network configuration list.
#[derive(Clone, Debug)]
pub struct NetworkList {
    /// The decoded list; `plugins` are kept as raw JSON, each plugin's own keys intact.
    pub conf: NetConfList,
    /// The protocol version negotiated from `cniVersions` / `cniVersion`.
    pub version: CniVersion,
    /// The list as JSON bytes (a `.conf` file's up-converted form), as cached by ADD.
    pub bytes: Vec<u8>,
    /// The file it came from, if any.
    pub source: Option<PathBuf>,
}

// === impl NetworkList ===

impl NetworkList {
    /// Decodes a conflist document.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CniError> {
        let (conf, version) = NetConfList::decode(bytes)?;
        Ok(Self {
            conf,
            version,
            bytes: bytes.to_vec(),
            source: None,
        })
    }

    /// Up-converts a single-plugin config (`.conf`) into a one-plugin list, as libcni's
    /// `ConfListFromConf` does: the list takes the plugin's `name` and `cniVersion`.
    pub fn from_single_conf(bytes: &[u8]) -> Result<Self, CniError> {
        let plugin: Value = podnet_cni_spec::decode::json(bytes, "network config")?;
        if plugin.get("plugins").is_some() && plugin.get("type").is_none() {
            return Err(CniError::invalid_config(
                "network config: field \"type\" is required (this is a plugin list: \
                 name the file *.conflist)",
            ));
        }
        // The single-plugin rules (name, type, a version we speak) apply first, so that
        // errors name the plugin's fields rather than the synthetic list's.
        podnet_cni_spec::NetConf::decode(bytes)?;
        let list = json!({
            "name": plugin["name"],
            "cniVersion": plugin["cniVersion"],
            "plugins": [plugin],
        });
        Self::from_bytes(&serde_json::to_vec(&list).expect("json serializes"))
    }

    /// Loads one file: `*.conflist` as a list, anything else as a single-plugin config.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let decoded = if has_extension(path, LIST_EXTENSIONS) {
            Self::from_bytes(&bytes)
        } else {
            Self::from_single_conf(&bytes)
        };
        let mut list = decoded.map_err(|source| Error::Config {
            path: path.to_owned(),
            source,
        })?;
        list.source = Some(path.to_owned());
        Ok(list)
    }

    pub fn name(&self) -> &str {
        &self.conf.name
    }

    /// The `type` of each plugin, in order (validated present by decoding).
    pub fn plugin_types(&self) -> impl Iterator<Item = &str> {
        self.conf
            .plugins
            .iter()
            .map(|p| p["type"].as_str().unwrap_or_default())
    }
}

/// Finds the network named `name` in `dir`: conflists first, then single-plugin files, each
/// in file-name order. A file that fails to load stops the search, as in libcni: a broken
/// config must not be silently shadowed by a later one.
pub fn find(dir: &Path, name: &str) -> Result<NetworkList, Error> {
    for ext in [LIST_EXTENSIONS, SINGLE_EXTENSIONS] {
        for file in files(dir, ext)? {
            let list = NetworkList::from_file(&file)?;
            if list.name() == name {
                return Ok(list);
            }
        }
    }
    Err(Error::NotFound {
        dir: dir.to_owned(),
        name: name.to_owned(),
    })
}

/// Every network config in `dir` (`*.conf`, `*.conflist`, `*.json`), sorted by file name.
/// Files that fail to load are skipped with a warning, as containerd skips them.
pub fn load_all(dir: &Path) -> Result<Vec<NetworkList>, Error> {
    let all = [LIST_EXTENSIONS, SINGLE_EXTENSIONS].concat();
    let mut out = Vec::new();
    for file in files(dir, &all)? {
        match NetworkList::from_file(&file) {
            Ok(list) => out.push(list),
            Err(error) => tracing::warn!(%error, "skipping network config"),
        }
    }
    Ok(out)
}

/// Regular files in `dir` with one of `extensions`, sorted; a missing directory is empty.
fn files(dir: &Path, extensions: &[&str]) -> Result<Vec<PathBuf>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Read {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .filter(|p| has_extension(p, extensions))
        .collect();
    out.sort();
    Ok(out)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.contains(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, body: &str) {
        std::fs::write(dir.join(file), body).unwrap();
    }

    fn list(name: &str, plugin: &str) -> String {
        format!(r#"{{"cniVersion":"1.0.0","name":"{name}","plugins":[{{"type":"{plugin}"}}]}}"#)
    }

    #[test]
    fn single_conf_becomes_a_one_plugin_list() {
        let l = NetworkList::from_single_conf(
            br#"{"cniVersion":"0.4.0","name":"old","type":"bridge","bridge":"br9"}"#,
        )
        .unwrap();
        assert_eq!(l.name(), "old");
        assert_eq!(l.version, CniVersion::V0_4_0);
        assert_eq!(l.conf.plugins.len(), 1);
        assert_eq!(l.conf.plugins[0]["bridge"], "br9");
        let cached: Value = serde_json::from_slice(&l.bytes).unwrap();
        assert_eq!(cached["plugins"][0]["type"], "bridge");
    }

    #[test]
    fn a_conflist_named_conf_is_explained() {
        let err = NetworkList::from_single_conf(list("n", "x").as_bytes()).unwrap_err();
        assert!(err.msg.contains("*.conflist"), "{}", err.msg);
    }

    #[test]
    fn find_prefers_conflists_then_sorts_by_file_name() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "00-net.conf",
            r#"{"cniVersion":"1.0.0","name":"net","type":"single"}"#,
        );
        write(dir.path(), "20-net.conflist", &list("net", "second"));
        write(dir.path(), "10-net.conflist", &list("net", "first"));
        write(
            dir.path(),
            "99-other.json",
            r#"{"cniVersion":"1.0.0","name":"other","type":"j"}"#,
        );
        write(dir.path(), "README.md", "not a config");

        let found = find(dir.path(), "net").unwrap();
        assert_eq!(found.plugin_types().collect::<Vec<_>>(), ["first"]);
        assert!(found.source.unwrap().ends_with("10-net.conflist"));
        let other = find(dir.path(), "other").unwrap();
        assert_eq!(other.plugin_types().collect::<Vec<_>>(), ["j"]);
        assert!(matches!(
            find(dir.path(), "nope"),
            Err(Error::NotFound { .. })
        ));
    }

    #[test]
    fn load_all_sorts_by_name_and_skips_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "30-c.conflist", &list("c", "x"));
        write(
            dir.path(),
            "10-a.conf",
            r#"{"cniVersion":"1.0.0","name":"a","type":"x"}"#,
        );
        write(dir.path(), "20-broken.conflist", "{");
        write(
            dir.path(),
            "25-b.json",
            r#"{"cniVersion":"1.0.0","name":"b","type":"x"}"#,
        );
        let names: Vec<_> = load_all(dir.path())
            .unwrap()
            .iter()
            .map(|l| l.name().to_owned())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "10-bad.conflist",
            r#"{"cniVersion":"1.0.0","name":"bad","plugins":[{"type":"a"},{}]}"#,
        );
        let err = find(dir.path(), "bad").unwrap_err().to_string();
        assert!(err.contains("10-bad.conflist"), "{err}");
        assert!(err.contains("plugins[1].type"), "{err}");
    }

    #[test]
    fn missing_dir_finds_nothing() {
        let err = find(Path::new("/nonexistent/podnet"), "x").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err}");
    }
}
