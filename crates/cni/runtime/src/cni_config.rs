//! Running a network list's plugins: ADD, CHECK and DEL of one attachment. GC, STATUS and
//! VERSION, which are about the network rather than one attachment, are in `maintenance`.

use std::path::{Path, PathBuf};

use podnet_cni_invoke::Attachment;
use podnet_cni_spec::{CniError, CniResult, CniVersion, decode};
use serde_json::{Map, Value};

use crate::cache::{self, CachedAttachment};
use crate::conf::NetworkList;
use crate::error::{Error, Verb};
use crate::plugin_conf;
use crate::runtime_conf::RuntimeConf;

mod maintenance;

/// libcni's default cache directory; containerd and CRI-O use it too.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/cni";

/// Where plugins are found and results cached (libcni's `CNIConfig`).
#[derive(Clone, Debug)]
pub struct CniConfig {
    path: Vec<PathBuf>,
    cache_dir: PathBuf,
}

// === impl CniConfig ===

impl CniConfig {
    /// Plugins are searched in `path`, in order; results are cached in
    /// [`DEFAULT_CACHE_DIR`].
    pub fn new(path: Vec<PathBuf>) -> Self {
        Self {
            path,
            cache_dir: PathBuf::from(DEFAULT_CACHE_DIR),
        }
    }

    pub fn with_cache_dir(mut self, cache_dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = cache_dir.into();
        self
    }

    pub fn path(&self) -> &[PathBuf] {
        &self.path
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// ADD: runs every plugin in order, each getting the previous one's result, and caches
    /// the last result. On failure nothing is undone and nothing is cached: the caller must
    /// call [`CniConfig::del_network_list`] with the same `rt` to release what the plugins
    /// before the failing one set up.
    pub fn add_network_list(
        &self,
        list: &NetworkList,
        rt: &RuntimeConf,
    ) -> Result<CniResult, Error> {
        let _span = attachment_span(Verb::Add, list, rt).entered();
        validate(list, rt, Verb::Add)?;
        let at = rt.attachment(&self.path);
        let mut prev: Option<CniResult> = None;
        for (index, plugin) in list.conf.plugins.iter().enumerate() {
            let stdin = plugin_conf::build(
                plugin,
                list.name(),
                list.version,
                prev.as_ref(),
                Some(&rt.capability_args),
            );
            let out = self.call(list, index, Verb::Add, &at, &stdin)?;
            let result = decode::json(&out, "ADD result")
                .map_err(|source| plugin_error(list, index, Verb::Add, source))?;
            prev = Some(result);
        }
        let result = prev.expect("a decoded list has at least one plugin");
        let path = cache::path(&self.cache_dir, list.name(), rt);
        let entry = CachedAttachment::new(list.name(), &list.bytes, rt, &result, list.version);
        cache::write(&path, &entry).map_err(|source| cache_error(list, path, source))?;
        tracing::info!(ips = ?result.ips.iter().map(|ip| ip.address).collect::<Vec<_>>(), "attached");
        Ok(result)
    }

    /// CHECK (0.4.0 and later): every plugin in order, with the cached result as
    /// `prevResult`. A list with `disableCheck` passes without calling anything.
    pub fn check_network_list(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), Error> {
        let _span = attachment_span(Verb::Check, list, rt).entered();
        require(list, Verb::Check, CniVersion::V0_4_0)?;
        if list.conf.disable_check {
            tracing::debug!("disableCheck is set: not checking");
            return Ok(());
        }
        validate(list, rt, Verb::Check)?;
        let path = cache::path(&self.cache_dir, list.name(), rt);
        let cached = cache::read(&path).map_err(|source| cache_error(list, path, source))?;
        let prev = cached.as_ref().and_then(CachedAttachment::parsed_result);
        let at = rt.attachment(&self.path);
        for (index, plugin) in list.conf.plugins.iter().enumerate() {
            let stdin = plugin_conf::build(
                plugin,
                list.name(),
                list.version,
                prev.as_ref(),
                Some(&rt.capability_args),
            );
            self.call(list, index, Verb::Check, &at, &stdin)?;
        }
        Ok(())
    }

    /// DEL: every plugin in reverse order, with the cached result as `prevResult` (0.4.0
    /// and later), then the cache entry is removed. A missing or unreadable cache entry is
    /// not an error (the ADD may have failed half-way), and DEL can be repeated.
    ///
    /// Capability arguments are `rt`'s; when `rt` has none, those cached at ADD are used, so
    /// that a DEL from a process that no longer knows them (`podnet cni del`, GC) still
    /// gives portmap and bandwidth what they set up.
    pub fn del_network_list(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), Error> {
        let _span = attachment_span(Verb::Del, list, rt).entered();
        validate(list, rt, Verb::Del)?;
        let path = cache::path(&self.cache_dir, list.name(), rt);
        let cached = cache::read(&path).unwrap_or_else(|error| {
            tracing::warn!(%error, path = %path.display(), "ignoring an unreadable cache entry");
            None
        });
        // Before 0.4.0 the spec gave DEL no prevResult.
        let prev = cached
            .as_ref()
            .filter(|_| list.version >= CniVersion::V0_4_0)
            .and_then(CachedAttachment::parsed_result);
        let caps: &Map<String, Value> = match &cached {
            Some(entry) if rt.capability_args.is_empty() => &entry.capability_args,
            _ => &rt.capability_args,
        };
        let at = rt.attachment(&self.path);
        for (index, plugin) in list.conf.plugins.iter().enumerate().rev() {
            let stdin =
                plugin_conf::build(plugin, list.name(), list.version, prev.as_ref(), Some(caps));
            self.call(list, index, Verb::Del, &at, &stdin)?;
        }
        cache::remove(&path).map_err(|source| cache_error(list, path, source))?;
        tracing::info!("detached");
        Ok(())
    }

    /// The cache entry of one attachment, if any (libcni's `GetNetworkListCachedResult`
    /// and `GetNetworkListCachedConfig` in one).
    pub fn cached_attachment(
        &self,
        list: &NetworkList,
        rt: &RuntimeConf,
    ) -> Result<Option<CachedAttachment>, Error> {
        let path = cache::path(&self.cache_dir, list.name(), rt);
        cache::read(&path).map_err(|source| cache_error(list, path, source))
    }

    /// Every cached attachment, of any network, optionally only those of one container
    /// (libcni's `GetCachedAttachments`).
    pub fn cached_attachments(
        &self,
        container_id: Option<&str>,
    ) -> Result<Vec<CachedAttachment>, std::io::Error> {
        let mut all = cache::list(&self.cache_dir)?;
        if let Some(id) = container_id {
            all.retain(|e| e.container_id == id);
        }
        Ok(all)
    }

    /// Finds plugin `index` of `list` and runs it; every failure names the plugin.
    fn call(
        &self,
        list: &NetworkList,
        index: usize,
        verb: Verb,
        at: &Attachment,
        stdin: &[u8],
    ) -> Result<Vec<u8>, Error> {
        let plugin_type = plugin_type(list, index);
        podnet_cni_invoke::find(plugin_type, &self.path)
            .and_then(|binary| podnet_cni_invoke::exec(&binary, verb.as_str(), at, stdin))
            .map_err(|source| plugin_error(list, index, verb, source))
    }
}

fn attachment_span(verb: Verb, list: &NetworkList, rt: &RuntimeConf) -> tracing::Span {
    tracing::info_span!(
        "cni",
        verb = verb.as_str(),
        network = list.name(),
        container_id = rt.container_id.as_str(),
        ifname = rt.ifname.as_str(),
    )
}

fn validate(list: &NetworkList, rt: &RuntimeConf, verb: Verb) -> Result<(), Error> {
    rt.validate().map_err(|source| Error::Attachment {
        network: list.name().to_owned(),
        verb,
        source,
    })
}

fn require(list: &NetworkList, verb: Verb, needs: CniVersion) -> Result<(), Error> {
    if list.version >= needs {
        Ok(())
    } else {
        Err(Error::Unsupported {
            network: list.name().to_owned(),
            verb,
            version: list.version,
            needs,
        })
    }
}

fn plugin_type(list: &NetworkList, index: usize) -> &str {
    list.conf.plugins[index]["type"]
        .as_str()
        .unwrap_or_default()
}

fn plugin_error(list: &NetworkList, index: usize, verb: Verb, source: CniError) -> Error {
    Error::Plugin {
        network: list.name().to_owned(),
        index,
        plugin_type: plugin_type(list, index).to_owned(),
        verb,
        source,
    }
}

fn cache_error(list: &NetworkList, path: PathBuf, source: std::io::Error) -> Error {
    Error::Cache {
        network: list.name().to_owned(),
        path,
        source,
    }
}
