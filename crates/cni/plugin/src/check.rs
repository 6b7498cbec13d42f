//! CHECK: the attachment is still as ADD left it, according to the previous result: the
//! bridge, the host veth on it, the container interface, its addresses and its routes.

use podnet_cni_skel::Invocation;
use podnet_cni_spec::{CniError, CniResult, ErrorCode};
use podnet_netlink::Netlink;

use crate::config::BridgeConf;
use crate::ipam::Ipam;
use crate::kernel::{netlink_error, runtime};
use crate::names::host_veth_name;

/// Plugin-specific: the kernel state differs from the previous result.
pub const STATE_MISMATCH: ErrorCode = ErrorCode(110);

pub fn check(inv: &Invocation) -> Result<(), CniError> {
    let conf = BridgeConf::decode(&inv.stdin)?;
    let prev = inv.conf.prev_result()?.ok_or_else(|| {
        CniError::invalid_config("network config: field \"prevResult\" is required for CHECK")
    })?;
    if let Some(ipam) = Ipam::of(inv)? {
        ipam.call("CHECK")?;
    }
    let ifname = inv.ifname()?.to_string();
    let netns = inv
        .netns
        .clone()
        .ok_or_else(|| CniError::invalid_env("required env variable CNI_NETNS is missing"))?;
    let host_veth = host_veth_name(&inv.container_id, &ifname);
    runtime()?.block_on(async {
        let host = Netlink::open(None).map_err(netlink_error)?;
        let pod = Netlink::open(Some(&netns)).map_err(netlink_error)?;
        let bridge = host
            .link_by_name(conf.bridge.as_str())
            .await
            .map_err(netlink_error)?
            .ok_or_else(|| mismatch(format!("bridge {:?} does not exist", conf.bridge.as_str())))?;
        let veth = host
            .link_by_name(&host_veth)
            .await
            .map_err(netlink_error)?
            .ok_or_else(|| mismatch(format!("host veth {host_veth:?} does not exist")))?;
        if veth.master != Some(bridge.index) {
            return Err(mismatch(format!(
                "host veth {host_veth:?} is not a port of bridge {:?}",
                bridge.name
            )));
        }
        let link = pod
            .link_by_name(&ifname)
            .await
            .map_err(netlink_error)?
            .ok_or_else(|| {
                mismatch(format!(
                    "interface {ifname:?} does not exist in {}",
                    netns.display()
                ))
            })?;
        check_addresses_and_routes(&pod, link.index, &ifname, &prev).await
    })
}

async fn check_addresses_and_routes(
    pod: &Netlink,
    index: u32,
    ifname: &str,
    prev: &CniResult,
) -> Result<(), CniError> {
    let container = prev.container_interface();
    let addrs = pod.addresses(Some(index)).await.map_err(netlink_error)?;
    for ip in &prev.ips {
        if ip.interface.is_some() && ip.interface != container {
            continue;
        }
        if !addrs.iter().any(|a| a.addr == ip.address) {
            return Err(mismatch(format!(
                "interface {ifname:?} lacks address {}",
                ip.address
            )));
        }
    }
    let routes = pod.routes().await.map_err(netlink_error)?;
    for r in &prev.routes {
        let present = routes.iter().any(|have| {
            have.dst == r.dst
                && have.oif == Some(index)
                && r.gw.is_none_or(|gw| have.gw == Some(gw))
        });
        if !present {
            let via = r.gw.map(|g| format!(" via {g}")).unwrap_or_default();
            return Err(mismatch(format!(
                "route to {}{via} on {ifname:?} is missing",
                r.dst
            )));
        }
    }
    Ok(())
}

fn mismatch(msg: String) -> CniError {
    CniError::new(STATE_MISMATCH, msg)
}
