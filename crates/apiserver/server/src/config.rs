//! What a cluster configures about its API server: kube-apiserver's
//! `--service-cluster-ip-range` and `--service-node-port-range`.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// The server's cluster settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Service CIDRs, primary family first, at most one per family (kind's
    /// `networking.serviceSubnet`, comma-separated for dual-stack).
    pub service_cidrs: Vec<IpNet>,
    /// The NodePort range.
    pub node_ports: RangeInclusive<u16>,
    /// Where the service-account token signing key is kept (kube-apiserver's
    /// `--service-account-signing-key-file`; made on first start). None: a key made at start
    /// and kept in memory, so tokens die with the server.
    pub service_account_key_file: Option<PathBuf>,
    /// Bearer tokens of fixed users (kube-apiserver's `--token-auth-file`): the admin's.
    pub static_tokens: Vec<crate::auth::StaticToken>,
    /// Requests without credentials act with full rights: for tests that embed the server
    /// on plain HTTP without credentials. The lab turns it off, as every TLS test server
    /// can: then `system:anonymous` gets what RBAC grants it (the public info), as upstream.
    pub anonymous_is_admin: bool,
    /// How long an Event lives after its last write (kube-apiserver's `--event-ttl`).
    pub event_ttl: Duration,
    /// kube-apiserver's ServiceAccount admission plugin (see [`crate::admission`]). On by
    /// default upstream; off here unless asked for, since a pod is then refused until its
    /// namespace's `default` ServiceAccount exists, which takes a controller (the lab runs one).
    pub service_account_admission: bool,
    /// How the server connects to kubelets for the streaming subresources.
    pub kubelet_dialer: crate::connect::Dialer,
}

/// kube-apiserver's default `--event-ttl`.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(60 * 60);

/// kind's (and kubeadm's) default service subnet.
pub const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/16";

/// Why a [`Config`] cannot be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("service CIDRs: at least one is required")]
    NoServiceCidr,
    #[error("service CIDRs: {0} and {1} are of the same IP family; give one per family")]
    SameFamily(IpNet, IpNet),
    #[error("service CIDR {0}: too small to allocate from (at most /30 for IPv4, /126 for IPv6)")]
    TooSmall(IpNet),
    #[error("node port range {start}-{end}: the first port is above the last")]
    EmptyPortRange { start: u16, end: u16 },
}

// === impl Config ===

impl Default for Config {
    fn default() -> Self {
        Config {
            service_cidrs: vec![DEFAULT_SERVICE_CIDR.parse().expect("a valid CIDR")],
            node_ports: podnet_lab_controllers_alloc::port::DEFAULT_RANGE,
            service_account_key_file: None,
            static_tokens: Vec::new(),
            anonymous_is_admin: true,
            event_ttl: DEFAULT_EVENT_TTL,
            service_account_admission: false,
            kubelet_dialer: crate::connect::Dialer::default(),
        }
    }
}

impl Config {
    /// Refuses what the allocators cannot work with.
    pub fn check(&self) -> Result<(), ConfigError> {
        let cidrs = &self.service_cidrs;
        if cidrs.is_empty() {
            return Err(ConfigError::NoServiceCidr);
        }
        for (i, a) in cidrs.iter().enumerate() {
            if let Some(b) = cidrs[i + 1..]
                .iter()
                .find(|b| b.max_prefix_len() == a.max_prefix_len())
            {
                return Err(ConfigError::SameFamily(*a, *b));
            }
        }
        if let Some(small) = self
            .service_cidrs
            .iter()
            .find(|c| c.max_prefix_len() - c.prefix_len() < 2)
        {
            return Err(ConfigError::TooSmall(*small));
        }
        if self.node_ports.is_empty() {
            return Err(ConfigError::EmptyPortRange {
                start: *self.node_ports.start(),
                end: *self.node_ports.end(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Config {
        Config {
            service_cidrs: list.iter().map(|c| c.parse().unwrap()).collect(),
            ..Config::default()
        }
    }

    #[test]
    fn the_default_is_kinds_service_subnet_and_port_range() {
        let c = Config::default();
        assert_eq!(c.service_cidrs, ["10.96.0.0/16".parse::<IpNet>().unwrap()]);
        assert_eq!(c.node_ports, 30000..=32767);
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn dual_stack_needs_one_cidr_per_family() {
        assert_eq!(cidrs(&["10.96.0.0/16", "fd00:10:96::/112"]).check(), Ok(()));
        assert!(matches!(
            cidrs(&["10.96.0.0/16", "10.97.0.0/16"]).check(),
            Err(ConfigError::SameFamily(..))
        ));
        assert_eq!(cidrs(&[]).check(), Err(ConfigError::NoServiceCidr));
    }

    #[test]
    fn tiny_cidrs_and_empty_port_ranges_are_refused() {
        assert!(matches!(
            cidrs(&["10.96.0.0/31"]).check(),
            Err(ConfigError::TooSmall(_))
        ));
        #[allow(clippy::reversed_empty_ranges)]
        let c = Config {
            node_ports: 32000..=31000,
            ..Config::default()
        };
        assert!(matches!(c.check(), Err(ConfigError::EmptyPortRange { .. })));
    }
}
