//! Static neighbour (ARP/NDP) entries and bridge-family FDB entries, as an overlay writes them
//! on its tunnel device: permanent, one per peer, written with replace so that a changed peer
//! is one request.

use std::net::IpAddr;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::RouteType;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_REPLACE};

use crate::error::Result;
use crate::handle::Netlink;
use crate::link::Mac;

/// A neighbour entry: `ip` is at `mac` on link `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    pub index: u32,
    pub ip: IpAddr,
    pub mac: Option<Mac>,
    /// NUD_PERMANENT: written by someone, never aged out or probed by the kernel.
    pub permanent: bool,
}

/// A forwarding-database entry of a tunnel device: frames for `mac` are sent to `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    pub index: u32,
    pub mac: Mac,
    /// The remote tunnel endpoint; `None` for entries without one (the device's own).
    pub dst: Option<IpAddr>,
    pub permanent: bool,
}

// === impl Netlink: neighbours ===

impl Netlink {
    /// Writes the permanent entry `ip → mac` on link `index`, replacing any entry for `ip`.
    pub async fn replace_neighbour(&self, index: u32, ip: IpAddr, mac: Mac) -> Result<()> {
        let mut msg = header(family_of(ip), index);
        msg.attributes
            .push(NeighbourAttribute::Destination(address(ip)));
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
        self.ack(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace neighbour {ip} lladdr {mac} on link #{index}"),
        )
        .await
    }

    pub async fn del_neighbour(&self, index: u32, ip: IpAddr) -> Result<()> {
        let mut msg = header(family_of(ip), index);
        msg.attributes
            .push(NeighbourAttribute::Destination(address(ip)));
        self.ack(RouteNetlinkMessage::DelNeighbour(msg), 0, || {
            format!("delete neighbour {ip} on link #{index}")
        })
        .await
    }

    /// The IPv4 and IPv6 neighbour entries of link `index`.
    pub async fn neighbours(&self, index: u32) -> Result<Vec<Neighbour>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            for msg in self.dump_neighbours(family, index).await? {
                let mut entry = None;
                let mut mac = None;
                for attr in &msg.attributes {
                    match attr {
                        NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                            entry = Some(IpAddr::V4(*v4))
                        }
                        NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                            entry = Some(IpAddr::V6(*v6))
                        }
                        NeighbourAttribute::LinkLayerAddress(a) => mac = mac_of(a),
                        _ => {}
                    }
                }
                if let Some(ip) = entry {
                    out.push(Neighbour {
                        index,
                        ip,
                        mac,
                        permanent: msg.header.state == NeighbourState::Permanent,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Writes the permanent FDB entry `mac → dst` on the tunnel device `index`, replacing the
    /// entry for `mac`. NTF_SELF addresses the device's own table (a VXLAN device refuses
    /// the request without it, EOPNOTSUPP).
    pub async fn replace_fdb(&self, index: u32, mac: Mac, dst: IpAddr) -> Result<()> {
        let msg = fdb_message(index, mac, dst);
        self.ack(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace fdb entry {mac} dst {dst} on link #{index}"),
        )
        .await
    }

    pub async fn del_fdb(&self, index: u32, mac: Mac, dst: IpAddr) -> Result<()> {
        let msg = fdb_message(index, mac, dst);
        self.ack(RouteNetlinkMessage::DelNeighbour(msg), 0, || {
            format!("delete fdb entry {mac} dst {dst} on link #{index}")
        })
        .await
    }

    /// The FDB entries of the device `index`.
    pub async fn fdb(&self, index: u32) -> Result<Vec<FdbEntry>> {
        let mut out = Vec::new();
        for msg in self.dump_neighbours(AddressFamily::Bridge, index).await? {
            let mut mac = None;
            let mut dst = None;
            for attr in &msg.attributes {
                match attr {
                    NeighbourAttribute::LinkLayerAddress(a) => mac = mac_of(a),
                    NeighbourAttribute::Destination(a) => dst = ip_of(a),
                    _ => {}
                }
            }
            if let Some(mac) = mac {
                out.push(FdbEntry {
                    index,
                    mac,
                    dst,
                    permanent: msg.header.state == NeighbourState::Permanent,
                });
            }
        }
        Ok(out)
    }

    async fn dump_neighbours(
        &self,
        family: AddressFamily,
        index: u32,
    ) -> Result<Vec<NeighbourMessage>> {
        let mut req = NeighbourMessage::default();
        req.header.family = family;
        // The kernel filters an IP neighbour dump by NDA_IFINDEX. A bridge-family (FDB) dump
        // reads its filter from a differently laid out header, so it is sent unfiltered; the
        // answers are filtered here either way.
        if family != AddressFamily::Bridge {
            req.attributes.push(NeighbourAttribute::IfIndex(index));
        }
        let answers = self
            .dump(RouteNetlinkMessage::GetNeighbour(req), || {
                format!("list {family:?} neighbours of link #{index}")
            })
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) if n.header.ifindex == index => Some(n),
                _ => None,
            })
            .collect())
    }
}

fn header(family: AddressFamily, index: u32) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = family;
    msg.header.ifindex = index;
    msg.header.state = NeighbourState::Permanent;
    msg.header.kind = RouteType::Unspec;
    msg
}

fn fdb_message(index: u32, mac: Mac, dst: IpAddr) -> NeighbourMessage {
    let mut msg = header(AddressFamily::Bridge, index);
    msg.header.flags = NeighbourFlags::Own;
    msg.attributes
        .push(NeighbourAttribute::LinkLayerAddress(mac.0.to_vec()));
    msg.attributes
        .push(NeighbourAttribute::Destination(address(dst)));
    msg
}

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn address(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
        IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
    }
}

/// An FDB entry's NDA_DST arrives undecoded (the message's family is the bridge's, not the
/// address's): its length tells the family.
fn ip_of(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        NeighbourAddress::Other(raw) => match raw.len() {
            4 => <[u8; 4]>::try_from(raw.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(raw.as_slice()).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

fn mac_of(bytes: &[u8]) -> Option<Mac> {
    <[u8; 6]>::try_from(bytes).ok().map(Mac)
}
