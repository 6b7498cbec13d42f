//! DEL and GC. Both work from the host side only: the host veth's name is derived from the
//! attachment, and deleting it takes the pod end with it, so a pod whose namespace is
//! already gone is cleaned up the same way.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use podnet_cni_skel::Invocation;
use podnet_cni_spec::CniError;
use podnet_netlink::Netlink;

use crate::config::BridgeConf;
use crate::ipam::Ipam;
use crate::kernel::{netlink_error, nft_error, runtime};
use crate::masq;
use crate::names::{host_veth_name, is_host_veth_name};

pub fn del(inv: &Invocation) -> Result<(), CniError> {
    let conf = BridgeConf::decode(&inv.stdin)?;
    if let Some(ipam) = Ipam::of(inv)? {
        ipam.call("DEL")?;
    }
    let ifname = inv.ifname()?.to_string();
    let host_veth = host_veth_name(&inv.container_id, &ifname);
    runtime()?.block_on(async {
        if conf.ip_masq {
            let addrs = masqueraded_addresses(inv, &ifname).await;
            if !addrs.is_empty() {
                podnet_nft::Executor::execute(&mut podnet_nft::Nft::new(None), &masq::del(&addrs))
                    .map_err(nft_error)?;
            }
        }
        let host = Netlink::open(None).map_err(netlink_error)?;
        let deleted = host.delete_link(&host_veth).await.map_err(netlink_error)?;
        tracing::debug!(veth = %host_veth, deleted, "host veth");
        Ok(())
    })
}

/// The pod's addresses, from the previous result or else from the pod's interface; none if
/// neither is there any more.
async fn masqueraded_addresses(inv: &Invocation, ifname: &str) -> Vec<IpNet> {
    if let Ok(Some(prev)) = inv.conf.prev_result()
        && !prev.ips.is_empty()
    {
        return prev.ips.iter().map(|ip| ip.address).collect();
    }
    let Some(netns) = inv.netns.as_deref().filter(|p| p.exists()) else {
        return Vec::new();
    };
    let Ok(pod) = Netlink::open(Some(netns)) else {
        return Vec::new();
    };
    let Ok(Some(link)) = pod.link_by_name(ifname).await else {
        return Vec::new();
    };
    pod.addresses(Some(link.index))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.addr)
        .filter(|a| !is_link_local(a.addr()))
        .collect()
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// GC: removes this network's host veths whose attachment is not in
/// `cni.dev/valid-attachments`, then lets IPAM collect its own garbage.
pub fn gc(inv: &Invocation) -> Result<(), CniError> {
    let conf = BridgeConf::decode(&inv.stdin)?;
    let valid = inv.conf.valid_attachments.as_ref().ok_or_else(|| {
        CniError::invalid_config(
            "network config: field \"cni.dev/valid-attachments\" is required for GC",
        )
    })?;
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| host_veth_name(&a.container_id, &a.ifname))
        .collect();
    runtime()?.block_on(async {
        let host = Netlink::open(None).map_err(netlink_error)?;
        let Some(bridge) = host
            .link_by_name(conf.bridge.as_str())
            .await
            .map_err(netlink_error)?
        else {
            return Ok(());
        };
        for link in host.links().await.map_err(netlink_error)? {
            if link.master == Some(bridge.index)
                && is_host_veth_name(&link.name)
                && !keep.contains(&link.name)
            {
                tracing::info!(veth = %link.name, "GC: removing the veth of a stale attachment");
                host.delete_link(&link.name).await.map_err(netlink_error)?;
            }
        }
        Ok::<_, CniError>(())
    })?;
    if conf.ip_masq {
        gc_masquerade(inv, &valid_pairs(valid))?;
    }
    match Ipam::of(inv)? {
        Some(ipam) => ipam.call_if_1_1("GC"),
        None => Ok(()),
    }
}

fn valid_pairs(valid: &[podnet_cni_spec::ValidAttachment]) -> HashSet<(String, String)> {
    valid
        .iter()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect()
}

/// Stops masquerading the addresses of this network's attachments that are not valid (an
/// ADD killed after it masqueraded leaves its elements; no DEL may ever come for it).
fn gc_masquerade(inv: &Invocation, valid: &HashSet<(String, String)>) -> Result<(), CniError> {
    let mut nft = podnet_nft::Nft::new(None);
    let Some(dump) = podnet_nft::Executor::dump(&nft, &masq::table()).map_err(nft_error)? else {
        return Ok(());
    };
    let stale = masq::stale_addresses(&dump, &inv.conf.name, |container, ifname| {
        !valid.contains(&(container.to_owned(), ifname.to_owned()))
    });
    if !stale.is_empty() {
        tracing::info!(addresses = ?stale, "GC: no longer masquerading stale attachments");
        podnet_nft::Executor::execute(&mut nft, &masq::del(&stale)).map_err(nft_error)?;
    }
    Ok(())
}
