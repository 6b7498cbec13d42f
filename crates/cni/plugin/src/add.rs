//! ADD: node bridge, veth pair (peer born in the pod's namespace under its final name), IPAM,
//! addresses and routes in the pod, gateway on the bridge, forwarding, masquerade. A failure
//! at any step undoes what was done (veth, IP allocation): nothing half-configured remains.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use ipnet::IpNet;
use podnet_cni_skel::Invocation;
use podnet_cni_spec::{CniError, CniResult, ErrorCode, Interface, Route};
use podnet_netlink::{BridgeSpec, Link, LinkChange, Mac, Netlink, RouteSpec, VethSpec};
use tokio::task::JoinHandle;

use crate::config::BridgeConf;
use crate::ipam::Ipam;
use crate::kernel::{enable_forwarding, netlink_error, nft_error, runtime};
use crate::names::host_veth_name;
use crate::{dns, masq};

/// The container interface's index in the result's `interfaces`, which are laid out as the
/// reference plugin does: bridge, host veth, container interface.
const CONTAINER_IDX: usize = 2;

/// What one ADD works with.
struct Add<'a> {
    inv: &'a Invocation,
    conf: BridgeConf,
    ifname: String,
    host_veth: String,
    netns_path: PathBuf,
    netns: File,
}

/// What to undo if the ADD fails; disarmed by success.
struct Undo {
    /// The IPAM ADD, running on a blocking thread while links are set up.
    ipam_job: Option<JoinHandle<Result<CniResult, CniError>>>,
    /// Set once IPAM was asked: its DEL is idempotent, so a release is always safe.
    ipam: Option<Ipam>,
    veth: Option<String>,
}

pub fn add(inv: &Invocation) -> Result<CniResult, CniError> {
    let conf = BridgeConf::decode(&inv.stdin)?;
    let ifname = inv.ifname()?.to_string();
    let netns_path = inv
        .netns
        .clone()
        .ok_or_else(|| CniError::invalid_env("required env variable CNI_NETNS is missing"))?;
    let netns = File::open(&netns_path)
        .map_err(|e| CniError::invalid_env(format!("CNI_NETNS {}: {e}", netns_path.display())))?;
    let ipam = Ipam::of(inv)?;
    let add = Add {
        inv,
        host_veth: host_veth_name(&inv.container_id, &ifname),
        conf,
        ifname,
        netns_path,
        netns,
    };
    runtime()?.block_on(async {
        let mut undo = Undo {
            ipam_job: ipam
                .clone()
                .map(|i| tokio::task::spawn_blocking(move || i.add())),
            ipam,
            veth: None,
        };
        let host = Netlink::open(None).map_err(netlink_error)?;
        match add.run(&host, &mut undo).await {
            Ok(result) => Ok(result),
            Err(e) => {
                undo.rollback(&host).await;
                Err(e)
            }
        }
    })
}

// === impl Add ===

impl Add<'_> {
    async fn run(&self, host: &Netlink, undo: &mut Undo) -> Result<CniResult, CniError> {
        let pod = Netlink::open(Some(&self.netns_path)).map_err(netlink_error)?;
        let bridge = host
            .ensure_bridge(&BridgeSpec {
                name: self.conf.bridge.as_str(),
                mtu: self.conf.mtu,
                promisc: self.conf.promisc_mode,
                mac: Some(random_mac(self.conf.bridge.as_str())),
            })
            .await
            .map_err(netlink_error)?;
        self.create_veth(host, &pod, &bridge, undo).await?;
        let host_link = host.link(&self.host_veth).await.map_err(netlink_error)?;
        if self.conf.hairpin_mode {
            host.set_hairpin(&host_link, true)
                .await
                .map_err(netlink_error)?;
        }
        let pod_link = pod.link(&self.ifname).await.map_err(netlink_error)?;
        let up = LinkChange {
            up: Some(true),
            ..Default::default()
        };
        pod.change_link(&pod_link, &up)
            .await
            .map_err(netlink_error)?;
        let lo = pod.link("lo").await.map_err(netlink_error)?;
        if !lo.up {
            pod.change_link(&lo, &up).await.map_err(netlink_error)?;
        }

        let mut result = match undo.ipam_job.take() {
            Some(job) => job.await.map_err(|e| {
                CniError::new(
                    ErrorCode::DELEGATE,
                    format!("IPAM plugin call panicked: {e}"),
                )
            })??,
            None => CniResult::default(),
        };
        self.complete_ips(&mut result)?;
        self.configure_pod(&pod, &pod_link, &result).await?;
        if self.conf.is_gateway {
            self.configure_gateway(host, &bridge, &result).await?;
        }
        if self.conf.ip_masq && !result.ips.is_empty() {
            let addrs: Vec<IpNet> = result.ips.iter().map(|ip| ip.address).collect();
            let comment = format!(
                "{}/{}/{}",
                self.inv.conf.name, self.inv.container_id, self.ifname
            );
            podnet_nft::Executor::execute(
                &mut podnet_nft::Nft::new(None),
                &masq::add(&addrs, &comment),
            )
            .map_err(nft_error)?;
        }
        result.interfaces = vec![
            interface(&bridge, None),
            interface(&host_link, None),
            interface(&pod_link, Some(self.netns_path.display().to_string())),
        ];
        result.dns = dns::merge(self.inv.conf.dns.as_ref(), std::mem::take(&mut result.dns));
        Ok(result)
    }

    /// The veth pair, host end on the bridge; an interface already called `ifname` in the
    /// pod is the caller's mistake, a stale host end (an earlier ADD of this attachment
    /// whose pod is gone) is removed and the pair made again.
    async fn create_veth(
        &self,
        host: &Netlink,
        pod: &Netlink,
        bridge: &Link,
        undo: &mut Undo,
    ) -> Result<(), CniError> {
        let spec = VethSpec {
            name: &self.host_veth,
            peer_name: &self.ifname,
            peer_netns: Some(self.netns.as_fd()),
            mtu: self.conf.mtu,
            master: Some(bridge.index),
        };
        for attempt in 0..2 {
            match host.add_veth(&spec).await {
                Ok(()) => {
                    undo.veth = Some(self.host_veth.clone());
                    return Ok(());
                }
                Err(e) if e.is_exists() && attempt == 0 => {
                    if pod
                        .link_by_name(&self.ifname)
                        .await
                        .map_err(netlink_error)?
                        .is_some()
                    {
                        return Err(CniError::invalid_env(format!(
                            "CNI_IFNAME: interface {:?} already exists in {}",
                            self.ifname,
                            self.netns_path.display()
                        )));
                    }
                    tracing::info!(veth = %self.host_veth, "removing a stale host veth of this attachment");
                    host.delete_link(&self.host_veth)
                        .await
                        .map_err(netlink_error)?;
                }
                Err(e) => return Err(netlink_error(e)),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Points every IP at the container interface and, for a gateway bridge, fills in the
    /// gateway IPAM left out (the subnet's first address), as the reference plugin does.
    fn complete_ips(&self, result: &mut CniResult) -> Result<(), CniError> {
        for ip in &mut result.ips {
            ip.interface = Some(CONTAINER_IDX);
            if self.conf.is_gateway && ip.gateway.is_none() {
                ip.gateway = Some(first_host(ip.address));
            }
        }
        if self.conf.is_default_gateway {
            for ip in result.ips.clone() {
                let default = default_net(ip.address.addr());
                let gw = ip.gateway.expect("a gateway bridge has a gateway per IP");
                if let Some(r) = result.routes.iter().find(|r| r.dst == default)
                    && r.gw.is_some_and(|g| g != gw)
                {
                    return Err(CniError::invalid_config(format!(
                        "network config: field \"isDefaultGateway\": ineffective because IPAM \
                         sets the default route via {}",
                        r.gw.expect("checked above")
                    )));
                }
                if !result.routes.iter().any(|r| r.dst == default) {
                    result.routes.push(Route::new(default, Some(gw)));
                }
            }
        }
        Ok(())
    }

    /// Addresses (IPv6 without DAD), MTU already set at creation, then routes: a route
    /// without a gateway goes via its family's gateway.
    async fn configure_pod(
        &self,
        pod: &Netlink,
        link: &Link,
        result: &CniResult,
    ) -> Result<(), CniError> {
        for ip in &result.ips {
            pod.add_address(link.index, ip.address)
                .await
                .map_err(netlink_error)?;
        }
        for r in &result.routes {
            let family_gw = result
                .ips
                .iter()
                .filter(|ip| ip.address.addr().is_ipv4() == r.dst.addr().is_ipv4())
                .find_map(|ip| ip.gateway);
            let spec = RouteSpec {
                dst: Some(r.dst),
                gw: r.gw.or(family_gw),
                oif: Some(link.index),
                mtu: r.mtu,
                advmss: r.advmss,
                priority: r.priority,
                table: r.table,
                scope: r.scope,
            };
            match pod.add_route(&spec).await {
                Ok(()) => {}
                // The kernel made it already (the subnet's own route) or IPAM listed it twice.
                Err(e) if e.is_exists() => {}
                Err(e) => return Err(netlink_error(e)),
            }
        }
        Ok(())
    }

    /// The gateway addresses on the bridge, and forwarding on, for each family in use.
    async fn configure_gateway(
        &self,
        host: &Netlink,
        bridge: &Link,
        result: &CniResult,
    ) -> Result<(), CniError> {
        let existing = host
            .addresses(Some(bridge.index))
            .await
            .map_err(netlink_error)?;
        let mut families = (false, false);
        for ip in &result.ips {
            let gw = ip.gateway.expect("complete_ips set every gateway");
            let want = IpNet::new(gw, ip.address.prefix_len()).expect("prefix of a valid net");
            if want.addr().is_ipv4() {
                families.0 = true;
            } else {
                families.1 = true;
            }
            if existing.iter().any(|a| a.addr == want) {
                continue;
            }
            for a in &existing {
                let same_family = a.addr.addr().is_ipv4() == want.addr().is_ipv4();
                // IPv6 allows several addresses if their subnets do not overlap (link-local
                // among them); IPv4 allows one.
                let conflicts = same_family
                    && (want.addr().is_ipv4()
                        || a.addr.contains(&want.addr())
                        || want.contains(&a.addr.addr()));
                if !conflicts {
                    continue;
                }
                if !self.conf.force_address {
                    return Err(CniError::invalid_config(format!(
                        "bridge {:?} already has address {} instead of gateway {want}; \
                         set \"forceAddress\" to replace it",
                        bridge.name, a.addr
                    )));
                }
                host.del_address(bridge.index, a.addr)
                    .await
                    .map_err(netlink_error)?;
            }
            match host.add_address(bridge.index, want).await {
                Ok(()) => {}
                Err(e) if e.is_exists() => {}
                Err(e) => return Err(netlink_error(e)),
            }
        }
        if families.0 {
            enable_forwarding(false)?;
        }
        if families.1 {
            enable_forwarding(true)?;
        }
        Ok(())
    }
}

// === impl Undo ===

impl Undo {
    /// Best effort: every step is tried, failures are logged (the ADD's own error is what
    /// the runtime needs to see).
    async fn rollback(&mut self, host: &Netlink) {
        if let Some(veth) = self.veth.take()
            && let Err(e) = host.delete_link(&veth).await
        {
            tracing::warn!(%veth, error = %e, "rollback: deleting the veth");
        }
        if let Some(job) = self.ipam_job.take() {
            // Let the allocation finish before releasing it.
            let _ = job.await;
        }
        if let Some(ipam) = self.ipam.take()
            && let Err(e) = tokio::task::spawn_blocking(move || ipam.call("DEL"))
                .await
                .unwrap_or_else(|e| Err(CniError::new(ErrorCode::DELEGATE, e.to_string())))
        {
            tracing::warn!(error = %e, "rollback: releasing the IPAM allocation");
        }
    }
}

fn interface(link: &Link, sandbox: Option<String>) -> Interface {
    Interface {
        name: link.name.clone(),
        mac: link.mac.to_string(),
        mtu: Some(link.mtu),
        sandbox,
        ..Default::default()
    }
}

fn default_net(family_of: IpAddr) -> IpNet {
    match family_of {
        IpAddr::V4(_) => IpNet::V4(Default::default()),
        IpAddr::V6(_) => IpNet::V6(Default::default()),
    }
}

/// The first address after the network address: the conventional gateway.
fn first_host(net: IpNet) -> IpAddr {
    match net.network() {
        IpAddr::V4(a) => IpAddr::V4((u32::from(a) + 1).into()),
        IpAddr::V6(a) => IpAddr::V6((u128::from(a) + 1).into()),
    }
}

/// A fresh locally administered MAC for a new bridge, from the name, time and process.
fn random_mac(bridge: &str) -> Mac {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::new()
        .chain_update(bridge.as_bytes())
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize();
    let mut bytes = [0u8; 6];
    bytes.copy_from_slice(&digest[..6]);
    Mac::local_from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_is_the_first_host_of_the_subnet() {
        assert_eq!(
            first_host("10.244.1.7/24".parse().unwrap()).to_string(),
            "10.244.1.1"
        );
        assert_eq!(
            first_host("fd00:1::7/64".parse().unwrap()).to_string(),
            "fd00:1::1"
        );
    }

    #[test]
    fn random_macs_are_local_unicast() {
        let m = random_mac("cni0");
        assert_eq!(m.0[0] & 0x03, 0x02);
    }
}
