//! The result cache, byte-compatible with libcni's (`kind: cniCacheV1`), so that containerd,
//! CRI-O, cnitool and podnet can each DEL, CHECK or GC what another one added.
//!
//! One file per attachment at `<cacheDir>/results/<network>-<containerID>-<ifname>`.

use std::io;
use std::path::{Path, PathBuf};

use podnet_cni_spec::{CniArgs, CniResult, CniVersion};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::runtime_conf::RuntimeConf;

const KIND_V1: &str = "cniCacheV1";

/// One cached attachment, in libcni's on-disk layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAttachment {
    pub kind: String,
    #[serde(rename = "containerId")]
    pub container_id: String,
    /// The network config list the attachment was made with (base64 in the file, as Go
    /// encodes a `[]byte`).
    #[serde(with = "base64_bytes")]
    pub config: Vec<u8>,
    #[serde(rename = "ifName")]
    pub ifname: String,
    #[serde(rename = "networkName")]
    pub network_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub netns: String,
    #[serde(rename = "cniArgs", default, skip_serializing_if = "Vec::is_empty")]
    pub cni_args: Vec<[String; 2]>,
    #[serde(
        rename = "capabilityArgs",
        default,
        skip_serializing_if = "Map::is_empty"
    )]
    pub capability_args: Map<String, Value>,
    /// The final ADD result, in the list's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

// === impl CachedAttachment ===

impl CachedAttachment {
    pub(crate) fn new(
        network: &str,
        config: &[u8],
        rt: &RuntimeConf,
        result: &CniResult,
        version: CniVersion,
    ) -> Self {
        Self {
            kind: KIND_V1.to_owned(),
            container_id: rt.container_id.clone(),
            config: config.to_vec(),
            ifname: rt.ifname.as_str().to_owned(),
            network_name: network.to_owned(),
            netns: rt.netns_str(),
            cni_args: rt
                .args
                .0
                .iter()
                .map(|(k, v)| [k.clone(), v.clone()])
                .collect(),
            capability_args: rt.capability_args.clone(),
            result: Some(result.to_json(version)),
        }
    }

    /// `CNI_ARGS` as they were at ADD.
    pub fn args(&self) -> CniArgs {
        CniArgs(
            self.cni_args
                .iter()
                .map(|[k, v]| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// The cached result, if there is one and it parses.
    pub fn parsed_result(&self) -> Option<CniResult> {
        let value = self.result.as_ref()?;
        podnet_cni_spec::decode::value(value, "cached result")
            .inspect_err(|e| tracing::warn!(error = %e, "ignoring an unreadable cached result"))
            .ok()
    }
}

/// Where the results of `cache_dir` live.
pub(crate) fn results_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("results")
}

/// The cache file of one attachment, named as libcni names it.
pub(crate) fn path(cache_dir: &Path, network: &str, rt: &RuntimeConf) -> PathBuf {
    results_dir(cache_dir).join(format!(
        "{network}-{}-{}",
        rt.container_id,
        rt.ifname.as_str()
    ))
}

/// Writes the entry atomically (temp file + rename), so a crash never leaves half a file
/// for a later DEL to stumble on.
pub(crate) fn write(path: &Path, entry: &CachedAttachment) -> io::Result<()> {
    let dir = path.parent().expect("a cache path has a parent");
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, serde_json::to_vec(entry).expect("json serializes"))?;
    set_mode(&tmp, 0o600)?;
    std::fs::rename(&tmp, path)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Reads one entry: `Ok(None)` when there is none; an entry that is not libcni's v1 kind
/// (or not JSON) is an `InvalidData` error.
pub(crate) fn read(path: &Path) -> io::Result<Option<CachedAttachment>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let entry: CachedAttachment = serde_json::from_slice(&bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if entry.kind != KIND_V1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown cache kind {:?}", entry.kind),
        ));
    }
    Ok(Some(entry))
}

/// Removes one entry; a missing one is fine.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every readable v1 entry, in file-name order (libcni's `GetCachedAttachments`): files
/// that are not entries are skipped, as are entries without an interface or network name.
pub(crate) fn list(cache_dir: &Path) -> io::Result<Vec<CachedAttachment>> {
    let dir = results_dir(cache_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    Ok(files
        .iter()
        .filter_map(|f| read(f).ok().flatten())
        .filter(|e| !e.ifname.is_empty() && !e.network_name.is_empty())
        .collect())
}

/// Go's `[]byte` JSON encoding: standard base64, `null` for an empty slice on decode.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podnet_base::IfName;
    use serde_json::json;

    fn rt() -> RuntimeConf {
        RuntimeConf::new(
            "c1",
            Some("/run/netns/p1".into()),
            IfName::new("eth0").unwrap(),
        )
        .with_args(CniArgs::parse("K8S_POD_NAME=web").unwrap())
        .with_capability_args(
            json!({"mac": "aa:bb:cc:dd:ee:ff"})
                .as_object()
                .cloned()
                .unwrap(),
        )
    }

    #[test]
    fn entry_has_libcni_layout() {
        let result: CniResult =
            serde_json::from_value(json!({"ips": [{"address": "10.0.0.2/24"}]})).unwrap();
        let entry = CachedAttachment::new("pods", b"{\"x\":1}", &rt(), &result, CniVersion::V1_0_0);
        let doc = serde_json::to_value(&entry).unwrap();
        assert_eq!(doc["kind"], "cniCacheV1");
        assert_eq!(doc["containerId"], "c1");
        assert_eq!(doc["ifName"], "eth0");
        assert_eq!(doc["networkName"], "pods");
        assert_eq!(doc["netns"], "/run/netns/p1");
        assert_eq!(doc["config"], "eyJ4IjoxfQ==");
        assert_eq!(doc["cniArgs"], json!([["K8S_POD_NAME", "web"]]));
        assert_eq!(doc["capabilityArgs"]["mac"], "aa:bb:cc:dd:ee:ff");
        assert_eq!(doc["result"]["cniVersion"], "1.0.0");
        assert_eq!(doc["result"]["ips"][0]["address"], "10.0.0.2/24");
    }

    #[test]
    fn reads_what_libcni_writes() {
        // As libcni v1.2 writes it (config is the base64 of the conflist).
        let doc = br#"{"kind":"cniCacheV1","containerId":"abc","config":"e30=","ifName":"eth1","networkName":"n","netns":"/var/run/netns/x","result":{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.3/16","gateway":"10.1.0.1"}],"dns":{}}}"#;
        let e: CachedAttachment = serde_json::from_slice(doc).unwrap();
        assert_eq!(e.config, b"{}");
        assert_eq!(
            e.parsed_result().unwrap().ips[0].address.to_string(),
            "10.1.0.3/16"
        );
        assert!(e.args().0.is_empty());
    }

    #[test]
    fn write_read_list_remove_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let entry =
            CachedAttachment::new("n", b"{}", &rt(), &CniResult::default(), CniVersion::V1_1_0);
        let p = path(dir.path(), "n", &rt());
        assert!(p.ends_with("results/n-c1-eth0"));
        write(&p, &entry).unwrap();
        assert_eq!(read(&p).unwrap().unwrap(), entry);
        std::fs::write(results_dir(dir.path()).join("junk"), "not json").unwrap();
        assert_eq!(list(dir.path()).unwrap(), vec![entry]);
        remove(&p).unwrap();
        remove(&p).unwrap();
        assert_eq!(read(&p).unwrap(), None);
    }

    #[test]
    fn a_foreign_kind_is_invalid_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(
            &p,
            br#"{"kind":"other","containerId":"","config":null,"ifName":"","networkName":""}"#,
        )
        .unwrap();
        assert_eq!(read(&p).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
