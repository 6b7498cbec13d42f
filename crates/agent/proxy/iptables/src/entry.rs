//! What the agent calls to start, refuse or clean up these modes.

use std::path::Path;

use podnet_agent_proxy::{NodeInfo, NodePortAddressConfig};

use crate::backend::{IptablesBackend, IptablesConfig};
use crate::error::Result;

/// The iptables mode for `node` in `netns` (`None`: the agent's own), with kube-proxy's
/// defaults and NodePorts on `node_ports`. Detects the iptables backend (nf_tables unless
/// the node already uses legacy); programs nothing until the first sync.
///
/// Starting in this mode, the agent also removes the other modes' rules:
/// `podnet_agent_proxy::nftables::cleanup` and [`cleanup_ipvs`].
pub fn new_iptables(
    netns: Option<&Path>,
    node_ports: NodePortAddressConfig,
    node: &NodeInfo,
) -> Result<IptablesBackend> {
    let mut config = IptablesConfig::detect(netns)?;
    config.node_ports = node_ports;
    Ok(IptablesBackend::new(netns, config, node.clone()))
}

/// `Ok` when the kernel can run the ipvs mode; otherwise the reason, naming the missing
/// kernel feature (CONFIG_IP_VS, the `ip_vs` module). The agent refuses
/// `--proxy-mode ipvs` with it at start.
pub fn ipvs_available(netns: Option<&Path>) -> Result<(), String> {
    podnet_iptables::probe_ipvs(netns).map_err(|e| e.to_string())
}
