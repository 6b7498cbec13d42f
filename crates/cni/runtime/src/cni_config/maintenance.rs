//! The verbs about a whole network: GC, STATUS, and asking plugins their versions.

use std::collections::BTreeSet;
use std::path::PathBuf;

use podnet_base::IfName;
use podnet_cni_invoke::Attachment;
use podnet_cni_spec::{CniError, CniVersion, ValidAttachment, VersionInfo};

use super::{CniConfig, cache_error, plugin_error, plugin_type};
use crate::conf::NetworkList;
use crate::error::{Error, Verb};
use crate::plugin_conf;
use crate::runtime_conf::RuntimeConf;

// === impl CniConfig ===

impl CniConfig {
    /// GC, as libcni v1.2 does it: first a DEL for every cached attachment of this network
    /// that is not in `valid` (whatever the list's version), then — for 1.1.0 lists — the
    /// GC verb to every plugin with `cni.dev/valid-attachments`, so plugins can release
    /// what no cache entry remembers. A list with `disableGC` is left alone entirely (the
    /// spec's reason for it: configuration shared with another runtime). Failures do not
    /// stop the rest; all of them are returned together.
    pub fn gc_network_list(
        &self,
        list: &NetworkList,
        valid: &[ValidAttachment],
    ) -> Result<(), Error> {
        let _span = tracing::info_span!("cni", verb = "GC", network = list.name()).entered();
        if list.conf.disable_gc {
            tracing::info!("disableGC is set: not collecting");
            return Ok(());
        }
        let keep: BTreeSet<(&str, &str)> = valid
            .iter()
            .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
            .collect();
        let cached = self
            .cached_attachments(None)
            .map_err(|source| cache_error(list, self.cache_dir.join("results"), source))?;
        let mut errors = Vec::new();
        for entry in cached.iter().filter(|e| e.network_name == list.name()) {
            if keep.contains(&(entry.container_id.as_str(), entry.ifname.as_str())) {
                continue;
            }
            tracing::info!(container_id = %entry.container_id, ifname = %entry.ifname, "deleting stale attachment");
            let deleted =
                stale_runtime_conf(list, entry).and_then(|rt| self.del_network_list(list, &rt));
            if let Err(e) = deleted {
                errors.push(Error::Stale {
                    network: list.name().to_owned(),
                    container_id: entry.container_id.clone(),
                    ifname: entry.ifname.clone(),
                    source: Box::new(e),
                });
            }
        }
        if list.version.has_gc_and_status() {
            let valid_json = serde_json::to_value(valid).expect("json serializes");
            let at = self.network_attachment();
            for (index, plugin) in list.conf.plugins.iter().enumerate() {
                let extra = [("cni.dev/valid-attachments".to_owned(), valid_json.clone())];
                let stdin = plugin_conf::build_plain(plugin, list.name(), list.version, extra);
                if let Err(e) = self.call(list, index, Verb::Gc, &at, &stdin) {
                    errors.push(e);
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Gc {
                network: list.name().to_owned(),
                errors,
            })
        }
    }

    /// STATUS (1.1.0): asks every plugin in order whether it can serve ADDs; the first
    /// that cannot is the answer (code 50: not available, 51: limited connectivity). Lists
    /// of earlier versions have no STATUS and are reported ready, as libcni does; callers
    /// that want to tell the difference look at `list.version`.
    pub fn status_network_list(&self, list: &NetworkList) -> Result<(), Error> {
        let _span = tracing::info_span!("cni", verb = "STATUS", network = list.name()).entered();
        if !list.version.has_gc_and_status() {
            tracing::debug!(version = %list.version, "no STATUS before 1.1.0: ready");
            return Ok(());
        }
        let at = self.network_attachment();
        for (index, plugin) in list.conf.plugins.iter().enumerate() {
            let stdin = plugin_conf::build_plain(plugin, list.name(), list.version, []);
            self.call(list, index, Verb::Status, &at, &stdin)?;
        }
        Ok(())
    }

    /// VERSION of one plugin type found in the search path.
    pub fn version_info(&self, plugin_type: &str) -> Result<VersionInfo, CniError> {
        let binary = podnet_cni_invoke::find(plugin_type, &self.path)?;
        podnet_cni_invoke::versions(&binary, CniVersion::LATEST)
    }

    /// libcni's `ValidateNetworkList`: every plugin exists and speaks the list's version.
    /// Returns the capabilities the list's plugins declare, sorted.
    pub fn validate_network_list(&self, list: &NetworkList) -> Result<Vec<String>, Error> {
        let mut caps = BTreeSet::new();
        for (index, plugin) in list.conf.plugins.iter().enumerate() {
            let info = self
                .version_info(plugin_type(list, index))
                .map_err(|source| plugin_error(list, index, Verb::Version, source))?;
            if !info
                .supported_versions
                .iter()
                .any(|v| v == list.version.as_str())
            {
                let source = CniError::new(
                    podnet_cni_spec::ErrorCode::INCOMPATIBLE_VERSION,
                    format!(
                        "plugin does not support cniVersion {}; it supports {:?}",
                        list.version, info.supported_versions
                    ),
                );
                return Err(plugin_error(list, index, Verb::Version, source));
            }
            if let Some(declared) = plugin.get("capabilities").and_then(|c| c.as_object()) {
                caps.extend(
                    declared
                        .iter()
                        .filter(|(_, on)| on.as_bool() == Some(true))
                        .map(|(k, _)| k.clone()),
                );
            }
        }
        Ok(caps.into_iter().collect())
    }

    /// GC and STATUS are about the network, not an attachment: only `CNI_PATH` is set.
    fn network_attachment(&self) -> Attachment {
        Attachment {
            path: self.path.clone(),
            ..Attachment::default()
        }
    }
}

/// The attachment a cache entry describes, for GC's synthesized DEL.
fn stale_runtime_conf(
    list: &NetworkList,
    entry: &crate::CachedAttachment,
) -> Result<RuntimeConf, Error> {
    let ifname = IfName::new(entry.ifname.as_str()).map_err(|e| Error::Attachment {
        network: list.name().to_owned(),
        verb: Verb::Del,
        source: CniError::invalid_env(format!("cached attachment: field \"ifName\": {e}")),
    })?;
    let netns = (!entry.netns.is_empty()).then(|| PathBuf::from(&entry.netns));
    Ok(RuntimeConf::new(entry.container_id.clone(), netns, ifname)
        .with_args(entry.args())
        .with_capability_args(entry.capability_args.clone()))
}
