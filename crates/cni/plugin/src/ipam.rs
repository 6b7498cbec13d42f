//! The delegated IPAM plugin (`ipam.type`), called with the plugin's own config and
//! environment as the spec asks, in an older protocol version if it only speaks that.

use podnet_cni_invoke::{Attachment, delegate, supports};
use podnet_cni_skel::Invocation;
use podnet_cni_spec::{CniError, CniResult, CniVersion, ErrorCode};

/// One IPAM plugin call site; owns its data so an ADD can run on another thread while the
/// links are being set up.
#[derive(Clone, Debug)]
pub struct Ipam {
    plugin_type: String,
    at: Attachment,
    conf: Vec<u8>,
    version: CniVersion,
}

// === impl Ipam ===

impl Ipam {
    /// The IPAM plugin of this invocation; `None` for a config without `ipam` (L2 only).
    pub fn of(inv: &Invocation) -> Result<Option<Self>, CniError> {
        let Some(plugin_type) = inv.conf.ipam_type()? else {
            return Ok(None);
        };
        Ok(Some(Self {
            plugin_type: plugin_type.to_owned(),
            at: Attachment {
                container_id: inv.container_id.clone(),
                netns: inv.netns.clone(),
                ifname: inv.ifname().map(|n| n.to_string()).unwrap_or_default(),
                args: inv.args.render(),
                path: inv.path.clone(),
            },
            conf: inv.stdin.clone(),
            version: inv.version,
        }))
    }

    pub fn add(&self) -> Result<CniResult, CniError> {
        delegate(&self.plugin_type, "ADD", &self.at, &self.conf, self.version)?.ok_or_else(|| {
            CniError::new(
                ErrorCode::DELEGATE,
                format!("IPAM plugin {:?} returned no result", self.plugin_type),
            )
        })
    }

    pub fn call(&self, command: &str) -> Result<(), CniError> {
        delegate(
            &self.plugin_type,
            command,
            &self.at,
            &self.conf,
            self.version,
        )
        .map(drop)
    }

    /// GC and STATUS exist since 1.1.0: only a delegate that speaks it is asked.
    pub fn call_if_1_1(&self, command: &str) -> Result<(), CniError> {
        if supports(&self.plugin_type, &self.at.path, CniVersion::V1_1_0) {
            self.call(command)
        } else {
            tracing::debug!(ipam = %self.plugin_type, command, "IPAM plugin predates CNI 1.1.0, not asked");
            Ok(())
        }
    }
}
