//! `--proxy-mode`: which backend programs Services, and clearing the others' rules.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use podnet_agent_proxy::nftables::{self, NftBackend};
use podnet_agent_proxy::{Backend, NodeInfo, NodePortAddressConfig};

use crate::error::{Error, Result};

/// kube-proxy's modes, plus `none` (no service proxy: another one runs, or none is wanted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProxyMode {
    #[default]
    Nftables,
    Iptables,
    Ipvs,
    None,
}

impl FromStr for ProxyMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nftables" => Ok(ProxyMode::Nftables),
            "iptables" => Ok(ProxyMode::Iptables),
            "ipvs" => Ok(ProxyMode::Ipvs),
            "none" => Ok(ProxyMode::None),
            other => Err(format!(
                "{other:?} is not a proxy mode (nftables, iptables, ipvs or none)"
            )),
        }
    }
}

impl fmt::Display for ProxyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyMode::Nftables => "nftables",
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::None => "none",
        })
    }
}

/// The backend of `mode` in `netns`, after removing every other mode's rules (switching
/// modes leaves nothing behind). `None` for `--proxy-mode none`. ipvs is refused here, at
/// start, naming what the kernel lacks.
pub fn start_backend(
    mode: ProxyMode,
    netns: Option<&Path>,
    node: &NodeInfo,
    node_ports: NodePortAddressConfig,
) -> Result<Option<Box<dyn Backend>>> {
    if mode == ProxyMode::Ipvs {
        let reason = match podnet_agent_proxy_iptables::ipvs_available(netns) {
            Err(reason) => reason,
            Ok(()) => {
                "podnet renders the ipvs mode but does not apply it yet; use nftables or iptables"
                    .to_owned()
            }
        };
        return Err(Error::Proxy(podnet_agent_proxy::Error::Unsupported {
            mode: "ipvs",
            reason,
        }));
    }
    let others = |keep: ProxyMode| {
        if keep != ProxyMode::Nftables {
            warn_cleanup(
                "nftables",
                nftables::cleanup(netns).map_err(|e| e.to_string()),
            );
        }
        if keep != ProxyMode::Iptables {
            warn_cleanup(
                "iptables",
                podnet_agent_proxy_iptables::cleanup_iptables(netns).map_err(|e| e.to_string()),
            );
        }
        // The ipvs mode shares KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING and
        // KUBE-MARK-MASQ with the iptables mode: clearing it there would cut every Service
        // until the first sync. As kube-proxy, leave it alone while staying iptables-based.
        if keep != ProxyMode::Iptables {
            warn_cleanup(
                "ipvs",
                podnet_agent_proxy_iptables::cleanup_ipvs(netns).map_err(|e| e.to_string()),
            );
        }
    };
    others(mode);
    Ok(match mode {
        ProxyMode::Nftables => Some(Box::new(NftBackend::new(netns, node.clone(), node_ports))),
        ProxyMode::Iptables => Some(Box::new(
            podnet_agent_proxy_iptables::new_iptables(netns, node_ports, node)
                .map_err(|e| e.into_proxy("iptables"))?,
        )),
        ProxyMode::Ipvs | ProxyMode::None => None,
    })
}

fn warn_cleanup(mode: &str, result: std::result::Result<(), String>) {
    if let Err(error) = result {
        // Not fatal: a node that never ran that mode may lack its tools.
        tracing::warn!(%error, mode, "removing another proxy mode's rules");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for m in ["nftables", "iptables", "ipvs", "none"] {
            assert_eq!(m.parse::<ProxyMode>().unwrap().to_string(), m);
        }
        assert!(
            "userspace"
                .parse::<ProxyMode>()
                .unwrap_err()
                .contains("nftables, iptables")
        );
    }
}
