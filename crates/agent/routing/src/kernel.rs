//! The apply side: observes podnet's own objects in one namespace's kernel and changes only
//! what a [`Plan`] says, through podnet-netlink and podnet-nft.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use ipnet::{IpNet, Ipv4Net};
use podnet_netlink::{LinkChange, Netlink, ProtoRoute, VxlanSpec};
use podnet_nft::{Executor, Nft};

use crate::config::{EGRESS_TABLE, ROUTE_PROTOCOL, VXLAN_DEVICE};
use crate::desired::{LocalNode, VxlanDevice};
use crate::egress::Egress;
use crate::error::{Error, Result};
use crate::plan::{Observed, ObservedRoute, Plan};
use crate::vtep::VtepMac;

/// One network namespace's kernel (the node's).
#[derive(Clone, Debug)]
pub struct Kernel {
    nl: Netlink,
    nft: Nft,
}

// === impl Kernel ===

impl Kernel {
    /// The kernel of the namespace at `netns`, or of the caller's own when `None` (the agent
    /// runs inside its node's namespace). Must be called within a tokio runtime.
    pub fn open(netns: Option<&Path>) -> Result<Self> {
        Ok(Self {
            nl: Netlink::open(netns)?,
            nft: Nft::new(netns),
        })
    }

    /// Finds the link holding `ip`: the underlay of the overlay, the exit of host-gw routes.
    pub async fn local(&self, node: &str, ip: Ipv4Addr) -> Result<LocalNode> {
        let addrs = self.nl.addresses(None).await?;
        let holder = addrs
            .iter()
            .find(|a| a.addr.addr() == IpAddr::V4(ip))
            .ok_or_else(|| Error::NoUnderlay {
                node: node.to_owned(),
                node_ip: ip.to_string(),
            })?;
        let link = self
            .nl
            .links()
            .await?
            .into_iter()
            .find(|l| l.index == holder.index)
            .ok_or_else(|| Error::LinkVanished {
                name: format!("#{}", holder.index),
            })?;
        Ok(LocalNode {
            ip,
            underlay: link.name,
            underlay_mtu: link.mtu,
        })
    }

    /// Makes podnet's VXLAN device what `want` says (created, re-created when a parameter
    /// differs, up, with exactly its address), or removes it when `want` is `None`.
    /// Returns the number of changes made.
    pub async fn ensure_device(&self, want: Option<&VxlanDevice>) -> Result<usize> {
        let Some(want) = want else {
            let removed = self.nl.delete_link(VXLAN_DEVICE).await?;
            if removed {
                tracing::info!(
                    device = VXLAN_DEVICE,
                    "removed the vxlan device (host-gw mode)"
                );
            }
            return Ok(usize::from(removed));
        };
        let underlay = self.nl.link(&want.underlay).await?;
        let spec = VxlanSpec {
            name: want.name.clone(),
            vni: want.vni,
            port: want.port,
            local: want.local,
            underlay: underlay.index,
            mtu: want.mtu,
            mac: want.mac.into(),
            learning: false,
        };
        let mut changes = 0;
        match self.nl.vxlan(&want.name).await? {
            Some(have) if have.matches(&spec) => {
                if !have.link.up {
                    let up = LinkChange {
                        up: Some(true),
                        ..Default::default()
                    };
                    self.nl.change_link(&have.link, &up).await?;
                    changes += 1;
                }
            }
            existing => {
                if existing.is_some() {
                    tracing::info!(device = %want.name, "vxlan device differs from the wanted one, re-creating it");
                    self.nl.delete_link(&want.name).await?;
                }
                self.nl.add_vxlan(&spec).await?;
                tracing::info!(device = %want.name, vni = want.vni, port = want.port, local = %want.local, underlay = %want.underlay, mtu = want.mtu, mac = %want.mac, "created the vxlan device");
                changes += 1;
            }
        }
        let link = self.nl.link(&want.name).await?;
        let have: Vec<IpNet> = self
            .nl
            .addresses(Some(link.index))
            .await?
            .into_iter()
            .map(|a| a.addr)
            .filter(|a| a.addr().is_ipv4())
            .collect();
        let want_addr = want.address.map(IpNet::V4);
        for stale in have.iter().filter(|a| Some(**a) != want_addr) {
            self.nl.del_address(link.index, *stale).await?;
            tracing::info!(device = %want.name, address = %stale, "removed a stale address");
            changes += 1;
        }
        if let Some(addr) = want_addr.filter(|a| !have.contains(a)) {
            self.nl.add_address(link.index, addr).await?;
            tracing::info!(device = %want.name, address = %addr, "added the vtep address");
            changes += 1;
        }
        Ok(changes)
    }

    /// podnet's routes, and the permanent neighbour and FDB entries of its VXLAN device.
    pub async fn observe(&self) -> Result<Observed> {
        let names = self.link_names().await?;
        let mut out = Observed::default();
        for r in self.nl.proto_routes(ROUTE_PROTOCOL).await? {
            let IpNet::V4(dst) = r.dst else { continue };
            out.routes.insert(
                dst,
                ObservedRoute {
                    via: match r.gw {
                        Some(IpAddr::V4(v4)) => Some(v4),
                        _ => None,
                    },
                    dev: names
                        .get(&r.oif)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", r.oif)),
                    onlink: r.onlink,
                },
            );
        }
        let Some(dev) = names
            .iter()
            .find(|(_, n)| *n == VXLAN_DEVICE)
            .map(|(i, _)| *i)
        else {
            return Ok(out);
        };
        for n in self.nl.neighbours(dev).await? {
            if let (IpAddr::V4(ip), true) = (n.ip, n.permanent) {
                out.neighbours.insert(ip, n.mac.map(VtepMac::from));
            }
        }
        for e in self.nl.fdb(dev).await? {
            if let (Some(IpAddr::V4(dst)), true) = (e.dst, e.permanent) {
                out.fdb.insert((e.mac.into(), dst));
            }
        }
        Ok(out)
    }

    /// Makes the changes of `plan`: removals first, then FDB and neighbour entries before
    /// the routes that use them, so a new route works from its first packet.
    pub async fn apply(&self, plan: &Plan) -> Result<()> {
        let names = self.link_names().await?;
        let index_of = |name: &str| -> Result<u32> {
            names
                .iter()
                .find(|(_, n)| *n == name)
                .map(|(i, _)| *i)
                .or_else(|| name.strip_prefix('#').and_then(|i| i.parse().ok()))
                .ok_or_else(|| Error::LinkVanished {
                    name: name.to_owned(),
                })
        };
        for (dst, r) in &plan.del_routes {
            let route = proto_route(*dst, r.via, index_of(&r.dev)?, r.onlink);
            ignore_gone(self.nl.del_proto_route(&route).await)?;
            tracing::info!(dst = %dst, dev = %r.dev, "removed a stale route");
        }
        if plan.del_neighbours.is_empty()
            && plan.del_fdb.is_empty()
            && plan.put_fdb.is_empty()
            && plan.put_neighbours.is_empty()
        {
            return self.put_routes(plan, index_of).await;
        }
        let dev = index_of(VXLAN_DEVICE)?;
        for ip in &plan.del_neighbours {
            ignore_gone(self.nl.del_neighbour(dev, IpAddr::V4(*ip)).await)?;
            tracing::info!(ip = %ip, "removed a stale neighbour entry");
        }
        for (mac, dst) in &plan.del_fdb {
            ignore_gone(self.nl.del_fdb(dev, (*mac).into(), IpAddr::V4(*dst)).await)?;
            tracing::info!(mac = %mac, dst = %dst, "removed a stale fdb entry");
        }
        for (mac, dst) in &plan.put_fdb {
            self.nl
                .replace_fdb(dev, (*mac).into(), IpAddr::V4(*dst))
                .await?;
            tracing::info!(mac = %mac, dst = %dst, "wrote an fdb entry");
        }
        for (ip, mac) in &plan.put_neighbours {
            self.nl
                .replace_neighbour(dev, IpAddr::V4(*ip), (*mac).into())
                .await?;
            tracing::info!(ip = %ip, mac = %mac, "wrote a neighbour entry");
        }
        self.put_routes(plan, index_of).await
    }

    async fn put_routes(&self, plan: &Plan, index_of: impl Fn(&str) -> Result<u32>) -> Result<()> {
        for (dst, r) in &plan.put_routes {
            let route = proto_route(*dst, Some(r.via), index_of(&r.dev)?, r.onlink);
            self.nl.replace_proto_route(&route).await?;
            tracing::info!(dst = %dst, via = %r.via, dev = %r.dev, node = %r.node, "wrote a route");
        }
        Ok(())
    }

    /// Brings podnet's egress table to `egress`'s: reads it back, applies the difference in
    /// one transaction. Returns whether anything changed.
    pub async fn sync_egress(&self, egress: &Egress) -> Result<bool> {
        let mut nft = self.nft.clone();
        let want = egress.table();
        let tx = tokio::task::spawn_blocking(move || -> Result<_> {
            let have = nft.dump(&want.id)?;
            let tx = podnet_nft::diff(have.as_ref(), &want);
            nft.execute(&tx)?;
            Ok(tx)
        })
        .await??;
        if !tx.is_empty() {
            tracing::info!(
                table = EGRESS_TABLE,
                nodes = egress.node_ips.len(),
                ops = tx.ops.len(),
                "synced the egress table"
            );
        }
        Ok(!tx.is_empty())
    }

    async fn link_names(&self) -> Result<BTreeMap<u32, String>> {
        Ok(self
            .nl
            .links()
            .await?
            .into_iter()
            .map(|l| (l.index, l.name))
            .collect())
    }
}

fn proto_route(dst: Ipv4Net, via: Option<Ipv4Addr>, oif: u32, onlink: bool) -> ProtoRoute {
    ProtoRoute {
        dst: IpNet::V4(dst),
        gw: via.map(IpAddr::V4),
        oif,
        onlink,
        protocol: ROUTE_PROTOCOL,
    }
}

/// Something already gone is what a removal wanted.
fn ignore_gone(r: podnet_netlink::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.is_not_found() => Ok(()),
        other => Ok(other?),
    }
}
