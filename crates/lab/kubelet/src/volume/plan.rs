//! A pod's volumes as the kubelet's volume plugins would lay them out (pure): for each
//! volume, either an emptyDir or the files it holds (configMap, secret, downwardAPI,
//! projected), with upstream's defaults (mode 0644, every key when no `items`) and errors;
//! and the mounts that put them at the containers' `mountPath`s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Pod, Volume};
use podnet_netns::mount::{Mount, Source};

use crate::downward::{self, PodRuntime};
use crate::pod_objects::{Data, PodObjects};

/// Upstream's `defaultMode` of API-data volumes (0644).
const DEFAULT_MODE: u32 = 0o644;

/// One file of a volume: its bytes and permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct File {
    pub data: Vec<u8>,
    pub mode: u32,
}

/// A volume's files by path relative to the volume's directory.
pub(crate) type Files = BTreeMap<String, File>;

/// What a volume holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Content {
    /// An empty directory; in memory (tmpfs, with an optional size limit in bytes) or not.
    EmptyDir { memory: bool, size: Option<u64> },
    /// Files from the API, written atomically (`..data`) and mounted read-only.
    Files(Files),
    /// A path of the machine, checked (or created) as its `type` says.
    HostPath { path: PathBuf, kind: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VolumePlan {
    pub name: String,
    /// The plugin directory it lives under, as upstream (`kubernetes.io~configmap`).
    pub plugin: &'static str,
    pub content: Content,
}

/// A projected ServiceAccount token the pod asks for: what to request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct TokenSpec {
    pub audience: Option<String>,
    pub expiration_seconds: i64,
}

/// Upstream's default lifetime of a projected token.
const DEFAULT_TOKEN_SECONDS: i64 = 3600;

/// The tokens `pod`'s projected volumes ask for.
pub(crate) fn token_specs(pod: &Pod) -> BTreeSet<TokenSpec> {
    volumes_of(pod)
        .iter()
        .flat_map(|v| v.projected.iter().flat_map(|p| p.sources.iter().flatten()))
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| TokenSpec {
            audience: t.audience.clone().filter(|a| !a.is_empty()),
            expiration_seconds: t.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
        })
        .collect()
}

fn volumes_of(pod: &Pod) -> &[Volume] {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default()
}

/// Every volume of `pod` the lab supports, with its content; upstream's SetUp error (named
/// after the volume) for the first that cannot be made.
pub(crate) fn volumes(
    pod: &Pod,
    objects: &PodObjects,
    runtime: &PodRuntime<'_>,
    tokens: &BTreeMap<TokenSpec, String>,
) -> Result<Vec<VolumePlan>, String> {
    volumes_of(pod)
        .iter()
        .map(|v| {
            volume(pod, v, objects, runtime, tokens)
                .map_err(|e| format!("MountVolume.SetUp failed for volume \"{}\" : {e}", v.name))
        })
        .collect()
}

fn volume(
    pod: &Pod,
    v: &Volume,
    objects: &PodObjects,
    runtime: &PodRuntime<'_>,
    tokens: &BTreeMap<TokenSpec, String>,
) -> Result<VolumePlan, String> {
    let plan = |plugin, content| VolumePlan {
        name: v.name.clone(),
        plugin,
        content,
    };
    if let Some(e) = &v.empty_dir {
        let memory = e.medium.as_deref() == Some("Memory");
        let size = e
            .size_limit
            .as_ref()
            .and_then(|q| downward::parse_quantity(&q.0))
            .map(|b| b as u64);
        return Ok(plan(
            "kubernetes.io~empty-dir",
            Content::EmptyDir { memory, size },
        ));
    }
    if let Some(h) = &v.host_path {
        let content = Content::HostPath {
            path: PathBuf::from(&h.path),
            kind: h.type_.clone().unwrap_or_default(),
        };
        return Ok(plan("kubernetes.io~host-path", content));
    }
    let mut files = Files::new();
    let plugin = if let Some(cm) = &v.config_map {
        let mode = mode_of(cm.default_mode);
        let data = objects.config_map_files(&cm.name, cm.optional.unwrap_or(false))?;
        add_keys(
            &mut files,
            data,
            cm.items.as_deref(),
            mode,
            "configmap",
            "config",
        )?;
        "kubernetes.io~configmap"
    } else if let Some(s) = &v.secret {
        let mode = mode_of(s.default_mode);
        let name = s.secret_name.as_deref().unwrap_or_default();
        let data = objects.secret_data(name, s.optional.unwrap_or(false))?;
        add_keys(
            &mut files,
            data,
            s.items.as_deref(),
            mode,
            "secret",
            "secret",
        )?;
        "kubernetes.io~secret"
    } else if let Some(d) = &v.downward_api {
        let mode = mode_of(d.default_mode);
        add_downward(&mut files, pod, d.items.as_deref(), mode, runtime)?;
        "kubernetes.io~downward-api"
    } else if let Some(p) = &v.projected {
        let mode = mode_of(p.default_mode);
        for s in p.sources.iter().flatten() {
            if let Some(cm) = &s.config_map {
                let data = objects.config_map_files(&cm.name, cm.optional.unwrap_or(false))?;
                add_keys(
                    &mut files,
                    data,
                    cm.items.as_deref(),
                    mode,
                    "configmap",
                    "config",
                )?;
            }
            if let Some(secret) = &s.secret {
                let data = objects.secret_data(&secret.name, secret.optional.unwrap_or(false))?;
                add_keys(
                    &mut files,
                    data,
                    secret.items.as_deref(),
                    mode,
                    "secret",
                    "secret",
                )?;
            }
            if let Some(d) = &s.downward_api {
                add_downward(&mut files, pod, d.items.as_deref(), mode, runtime)?;
            }
            if let Some(t) = &s.service_account_token {
                let spec = TokenSpec {
                    audience: t.audience.clone().filter(|a| !a.is_empty()),
                    expiration_seconds: t.expiration_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS),
                };
                let token = tokens
                    .get(&spec)
                    .ok_or_else(|| "no service account token yet".to_owned())?;
                insert(&mut files, &t.path, token.clone().into_bytes(), mode)?;
            }
        }
        "kubernetes.io~projected"
    } else {
        return Err(
            "volume type not supported by the lab's kubelet (use configMap, secret, \
                    downwardAPI, projected, emptyDir or hostPath)"
                .to_owned(),
        );
    };
    Ok(plan(plugin, Content::Files(files)))
}

fn mode_of(mode: Option<i32>) -> u32 {
    mode.map_or(DEFAULT_MODE, |m| (m & 0o777) as u32)
}

/// A ConfigMap's or Secret's keys as files: every key, or the `items` (a missing key is an
/// error unless the source is optional — upstream's "references non-existent … key").
fn add_keys(
    files: &mut Files,
    data: Option<Data>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    kind: &str,
    noun: &str,
) -> Result<(), String> {
    let Some(data) = data else {
        return Ok(());
    };
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (key, value) in data {
                insert(files, &key, value, mode)?;
            }
        }
        Some(items) => {
            for item in items {
                let value = data.get(&item.key).ok_or_else(|| {
                    format!("{kind} references non-existent {noun} key: {}", item.key)
                })?;
                let mode = item.mode.map_or(mode, |m| (m & 0o777) as u32);
                insert(files, &item.path, value.clone(), mode)?;
            }
        }
    }
    Ok(())
}

fn add_downward(
    files: &mut Files,
    pod: &Pod,
    items: Option<&[DownwardAPIVolumeFile]>,
    mode: u32,
    runtime: &PodRuntime<'_>,
) -> Result<(), String> {
    for item in items.into_iter().flatten() {
        let value = if let Some(f) = &item.field_ref {
            downward::field(pod, &f.field_path, runtime)?
        } else if let Some(r) = &item.resource_field_ref {
            let containers = pod.spec.iter().flat_map(|s| &s.containers);
            let wanted = r.container_name.as_deref().unwrap_or_default();
            let c = containers
                .into_iter()
                .find(|c| c.name == wanted)
                .ok_or_else(|| format!("container {wanted} not found"))?;
            downward::resource(c, r, runtime)?
        } else {
            String::new()
        };
        let mode = item.mode.map_or(mode, |m| (m & 0o777) as u32);
        insert(files, &item.path, value.into_bytes(), mode)?;
    }
    Ok(())
}

/// Adds a file at a relative path that stays inside the volume (no `..`, not absolute, not
/// starting with `..` as the writer's own entries do).
fn insert(files: &mut Files, path: &str, data: Vec<u8>, mode: u32) -> Result<(), String> {
    let p = Path::new(path);
    let inside = !path.is_empty()
        && !path.starts_with("..")
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        return Err(format!(
            "invalid path {path:?}: must be relative, without '..'"
        ));
    }
    files.insert(path.to_owned(), File { data, mode });
    Ok(())
}

/// The mounts that put the volumes at the containers' mountPaths, in the pod's one mount
/// namespace (the union of every container's mounts; the first of a mountPath wins).
/// In-memory emptyDirs first get a tmpfs on their own directory, so that every mount of
/// one shares it. API-data volumes are always read-only, as upstream mounts them; hostPath
/// volumes bind the machine's path. A mount naming no volume is skipped (the lab's
/// StatefulSets keep `volumeClaimTemplates` without claims: there is no storage).
pub(crate) fn mounts(
    pod: &Pod,
    plans: &[VolumePlan],
    dir_of: impl Fn(&VolumePlan) -> PathBuf,
) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    for p in plans {
        if let Content::EmptyDir { memory: true, size } = p.content {
            out.push(Mount {
                source: Source::Tmpfs { size },
                target: dir_of(p),
                read_only: false,
            });
        }
    }
    let spec = pod.spec.as_ref();
    let containers = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers));
    let mut binds: BTreeMap<(usize, PathBuf), Mount> = BTreeMap::new();
    for c in containers {
        for m in c.volume_mounts.iter().flatten() {
            let Some(plan) = plans.iter().find(|p| p.name == m.name) else {
                tracing::debug!(container = %c.name, volume = %m.name, "volumeMount without a volume: skipped");
                continue;
            };
            let mut source = match &plan.content {
                Content::HostPath { path, .. } => path.clone(),
                _ => dir_of(plan),
            };
            if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
                let sub_path = Path::new(sub);
                if !sub_path
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
                {
                    return Err(format!("subPath {sub:?} must be relative, without '..'"));
                }
                source = source.join(sub_path);
            }
            let target = PathBuf::from(&m.mount_path);
            let depth = target.components().count();
            binds.entry((depth, target.clone())).or_insert(Mount {
                source: Source::Bind(source),
                target,
                read_only: m.read_only.unwrap_or(false)
                    || matches!(plan.content, Content::Files(_)),
            });
        }
    }
    out.extend(binds.into_values());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-0", "namespace": "ns1", "uid": "u-1",
                "labels": {"app": "web"}, "annotations": {"build": "7"}},
            "spec": spec
        }))
        .unwrap()
    }

    fn objects() -> PodObjects {
        let cms: Vec<ConfigMap> = serde_json::from_value(json!([{"metadata": {"name": "site"},
            "data": {"index.html": "<h1>hi</h1>", "app.conf": "x=1"},
            "binaryData": {"logo.bin": "AAEC"}}]))
        .unwrap();
        let secrets: Vec<Secret> = serde_json::from_value(json!([{"metadata": {"name": "tls"},
            "data": {"tls.key": "a2V5", "tls.crt": "Y3J0"}}]))
        .unwrap();
        PodObjects::for_test(vec![], cms, secrets)
    }

    fn plan(p: &Pod, tokens: &BTreeMap<TokenSpec, String>) -> Result<Vec<VolumePlan>, String> {
        let alloc: BTreeMap<String, Quantity> = BTreeMap::new();
        let rt = PodRuntime {
            pod_ips: &[],
            host_ip: "172.18.0.3".parse().unwrap(),
            allocatable: &alloc,
        };
        volumes(p, &objects(), &rt, tokens)
    }

    fn files(v: &VolumePlan) -> BTreeMap<&str, (String, u32)> {
        let Content::Files(f) = &v.content else {
            panic!("{} is not a files volume", v.name)
        };
        f.iter()
            .map(|(k, f)| {
                (
                    k.as_str(),
                    (String::from_utf8_lossy(&f.data).into_owned(), f.mode),
                )
            })
            .collect()
    }

    #[test]
    fn config_map_and_secret_volumes_hold_every_key_or_the_items() {
        let p = pod(json!({"containers": [], "volumes": [
            {"name": "all", "configMap": {"name": "site"}},
            {"name": "some", "configMap": {"name": "site", "defaultMode": 0o600,
                "items": [{"key": "app.conf", "path": "conf/app.conf", "mode": 0o400}]}},
            {"name": "certs", "secret": {"secretName": "tls", "defaultMode": 0o400}}]}));
        let v = plan(&p, &BTreeMap::new()).unwrap();
        assert_eq!(v[0].plugin, "kubernetes.io~configmap");
        let all = files(&v[0]);
        assert_eq!(
            all.keys().copied().collect::<Vec<_>>(),
            ["app.conf", "index.html", "logo.bin"]
        );
        assert_eq!(all["index.html"], ("<h1>hi</h1>".into(), 0o644));
        assert_eq!(all["logo.bin"].0.as_bytes(), [0u8, 1, 2]);
        assert_eq!(
            files(&v[1]),
            BTreeMap::from([("conf/app.conf", ("x=1".into(), 0o400))])
        );
        assert_eq!(files(&v[2])["tls.key"], ("key".into(), 0o400));
    }

    #[test]
    fn missing_sources_and_keys_fail_with_the_volume_named() {
        let failing = |volume: serde_json::Value| {
            plan(
                &pod(json!({"containers": [], "volumes": [volume]})),
                &BTreeMap::new(),
            )
            .unwrap_err()
        };
        assert_eq!(
            failing(json!({"name": "cfg", "configMap": {"name": "absent"}})),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found"
        );
        assert_eq!(
            failing(
                json!({"name": "cfg", "configMap": {"name": "site", "items": [{"key": "nope", "path": "p"}]}})
            ),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap references non-existent config key: nope"
        );
        assert_eq!(
            failing(
                json!({"name": "s", "secret": {"secretName": "tls", "items": [{"key": "ca", "path": "../ca"}]}})
            ),
            "MountVolume.SetUp failed for volume \"s\" : secret references non-existent secret key: ca"
        );
        assert!(
            failing(json!({"name": "h", "nfs": {"server": "nfs.example", "path": "/"}}))
                .contains("not supported")
        );
        let optional = pod(json!({"containers": [], "volumes": [
            {"name": "cfg", "configMap": {"name": "absent", "optional": true}}]}));
        assert_eq!(
            files(&plan(&optional, &BTreeMap::new()).unwrap()[0]),
            BTreeMap::new()
        );
    }

    #[test]
    fn projected_volume_gathers_token_ca_and_namespace() {
        let p = pod(
            json!({"containers": [], "volumes": [{"name": "kube-api-access-abcde",
            "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "site", "items": [{"key": "app.conf", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace",
                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]}),
        );
        let specs = token_specs(&p);
        let spec = TokenSpec {
            audience: None,
            expiration_seconds: 3607,
        };
        assert_eq!(specs, BTreeSet::from([spec.clone()]));
        assert!(
            plan(&p, &BTreeMap::new())
                .unwrap_err()
                .contains("no service account token yet")
        );
        let v = plan(&p, &BTreeMap::from([(spec, "jwt".to_owned())])).unwrap();
        assert_eq!(v[0].plugin, "kubernetes.io~projected");
        assert_eq!(
            files(&v[0]),
            BTreeMap::from([
                ("ca.crt", ("x=1".into(), 0o644)),
                ("namespace", ("ns1".into(), 0o644)),
                ("token", ("jwt".into(), 0o644)),
            ])
        );
    }

    #[test]
    fn downward_api_volume_formats_labels_and_annotations() {
        let p = pod(
            json!({"containers": [], "volumes": [{"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "meta/annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]}}]}),
        );
        let v = plan(&p, &BTreeMap::new()).unwrap();
        let f = files(&v[0]);
        assert_eq!(f["labels"].0, "app=\"web\"");
        assert_eq!(f["meta/annotations"].0, "build=\"7\"");
    }

    #[test]
    fn mounts_put_parents_first_keep_api_data_read_only_and_share_memory_empty_dirs() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "volumeMounts": [
                    {"name": "cfg", "mountPath": "/etc/app/conf"},
                    {"name": "cache", "mountPath": "/cache"},
                    {"name": "cfg", "mountPath": "/etc/app.conf", "subPath": "app.conf"}]},
                {"name": "b", "volumeMounts": [
                    {"name": "cache", "mountPath": "/cache", "readOnly": true},
                    {"name": "scratch", "mountPath": "/scratch", "readOnly": true},
                    {"name": "logs", "mountPath": "/var/log"},
                    {"name": "www", "mountPath": "/usr/share/nginx/html"}]}],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "site"}},
                {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "logs", "hostPath": {"path": "/var/log", "type": "Directory"}}]}));
        let plans = plan(&p, &BTreeMap::new()).unwrap();
        let dir = |v: &VolumePlan| PathBuf::from(format!("/state/{}/{}", v.plugin, v.name));
        let m = mounts(&p, &plans, dir).unwrap();
        let shown: Vec<String> = m
            .iter()
            .map(|m| format!("{:?} {} ro={}", m.source, m.target.display(), m.read_only))
            .collect();
        assert_eq!(
            shown,
            [
                "Tmpfs { size: Some(1048576) } /state/kubernetes.io~empty-dir/cache ro=false",
                "Bind(\"/state/kubernetes.io~empty-dir/cache\") /cache ro=false",
                "Bind(\"/state/kubernetes.io~empty-dir/scratch\") /scratch ro=true",
                "Bind(\"/state/kubernetes.io~configmap/cfg/app.conf\") /etc/app.conf ro=true",
                "Bind(\"/var/log\") /var/log ro=false",
                "Bind(\"/state/kubernetes.io~configmap/cfg\") /etc/app/conf ro=true",
            ]
        );
    }
}
