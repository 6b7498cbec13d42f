//! The ipvs mode, as kube-proxy's ipvs proxier lays it out: every service address bound to
//! the `kube-ipvs0` dummy interface, one IPVS virtual server per address and port with the
//! endpoints as real servers (masquerading, weight 1, round robin, `persistent` for ClientIP
//! affinity), and iptables rules that match ipsets (KUBE-CLUSTER-IP, KUBE-LOOP-BACK, …)
//! for masquerading, NodePorts and load-balancer source ranges.
//!
//! This machine's kernel has no IPVS (and no `dummy` links), so the mode is rendered and
//! golden-tested here, its ipsets and iptables rules are checked against the real kernel, and
//! the agent refuses to start in it ([`crate::ipvs_available`]). A service with no endpoint
//! needs no REJECT rule here: IPVS answers a virtual server without real servers with ICMP
//! port unreachable itself.

mod render;
mod rules;
mod sets;

pub use render::{IpvsConfig, IpvsRuleset, RealServer, VirtualServer, render_ipvs};
pub use sets::{IpsetKind, SetName};

use std::path::Path;

use podnet_iptables::{Ipset, Variant};

use crate::error::Result;

/// The dummy interface service addresses are bound to, so the node accepts them.
pub const DUMMY_DEVICE: &str = "kube-ipvs0";

/// Removes what the ipvs mode leaves in `netns`: its jumps and chains (both families and
/// backends), then its ipsets (which the rules referenced). Idempotent. The kube-ipvs0
/// device and IPVS virtual servers cannot exist on a kernel without IPVS and dummy links;
/// on one with them they are left to `ip link del kube-ipvs0` / `ipvsadm -C`.
pub fn cleanup_ipvs(netns: Option<&Path>) -> Result<()> {
    for variant in [Variant::Nft, Variant::Legacy] {
        for family in [podnet_iptables::Family::V4, podnet_iptables::Family::V6] {
            let ipt = podnet_iptables::Iptables::new(netns, family, variant);
            match rules::cleanup_chains(&ipt) {
                Ok(()) => {}
                Err(crate::Error::Iptables(podnet_iptables::Error::Spawn { source, .. }))
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    let ipset = Ipset::new(netns);
    let ours: Vec<String> = match ipset.names() {
        Ok(names) => names.into_iter().filter(|n| SetName::is_ours(n)).collect(),
        Err(podnet_iptables::Error::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Vec::new()
        }
        Err(e) => return Err(e.into()),
    };
    if !ours.is_empty() {
        let script: String = ours.iter().map(|n| format!("destroy {n}\n")).collect();
        ipset.restore(&script)?;
    }
    Ok(())
}
