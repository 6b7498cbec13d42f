//! What the `kubernetes` plugin block of a Corefile configures: the zones answered, the TTL,
//! the pod-record mode, where misses fall through.

use crate::error::{Error, Result};
use crate::wire::Name;

/// CoreDNS's `pods` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PodMode {
    /// No `<ip>.<ns>.pod.<zone>` records (CoreDNS's default for the plugin).
    Disabled,
    /// Any well-formed `a-b-c-d.<ns>.pod.<zone>` in an existing namespace answers `a.b.c.d`
    /// (the deprecated kube-dns behaviour; the default Corefile's choice).
    #[default]
    Insecure,
    /// Only addresses of Pods that exist in that namespace.
    Verified,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneConfig {
    /// Cluster zones (records are published under each); the first is the primary one,
    /// which PTR targets and the SOA use.
    pub zones: Vec<Name>,
    /// Reverse zones (under `in-addr.arpa.` or `ip6.arpa.`) answered with PTR records.
    pub reverse: Vec<Name>,
    pub ttl: u32,
    pub pods: PodMode,
    /// `fallthrough [ZONES…]`: a name under one of these zones that has no record is passed
    /// on (forwarded) instead of answered NXDOMAIN. `Some(empty)` is every zone.
    pub fallthrough: Option<Vec<Name>>,
    /// `endpoint_pod_names`: an endpoint without a hostname is named after its Pod.
    pub endpoint_pod_names: bool,
    /// `namespaces`: only these are exposed (empty: all).
    pub namespaces: Vec<String>,
}

/// The schema version in `dns-version.<zone>` (CoreDNS's current value).
pub const SCHEMA_VERSION: &str = "1.1.0";

impl Default for ZoneConfig {
    /// As the default Corefile of a kubeadm cluster: `kubernetes cluster.local in-addr.arpa
    /// ip6.arpa { pods insecure; fallthrough in-addr.arpa ip6.arpa; ttl 30 }`.
    fn default() -> Self {
        let mut c = Self::for_zones(&["cluster.local", "in-addr.arpa", "ip6.arpa"])
            .expect("valid built-in zones");
        c.fallthrough = Some(c.reverse.clone());
        c
    }
}

impl ZoneConfig {
    /// Zones as the `kubernetes` line lists them; reverse ones are told apart by suffix.
    pub fn for_zones(zones: &[&str]) -> Result<Self> {
        let in_addr = Name::parse("in-addr.arpa")?;
        let ip6 = Name::parse("ip6.arpa")?;
        let mut fwd = Vec::new();
        let mut reverse = Vec::new();
        for z in zones {
            let name = Name::parse(z)?;
            if name.is_under(&in_addr) || name.is_under(&ip6) {
                reverse.push(name);
            } else if name.is_root() {
                return Err(Error::Zone {
                    zone: (*z).to_owned(),
                    reason: "the root cannot be a cluster zone",
                });
            } else {
                fwd.push(name);
            }
        }
        if fwd.is_empty() {
            return Err(Error::Zone {
                zone: zones.join(" "),
                reason: "no cluster zone (only reverse zones)",
            });
        }
        Ok(Self {
            zones: fwd,
            reverse,
            ttl: 30,
            pods: PodMode::Insecure,
            fallthrough: None,
            endpoint_pod_names: false,
            namespaces: Vec::new(),
        })
    }

    pub fn primary(&self) -> &Name {
        &self.zones[0]
    }

    pub fn falls_through(&self, zone: &Name) -> bool {
        match &self.fallthrough {
            None => false,
            Some(zones) => zones.is_empty() || zones.iter().any(|z| zone.is_under(z)),
        }
    }

    pub fn exposes(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace)
    }
}
