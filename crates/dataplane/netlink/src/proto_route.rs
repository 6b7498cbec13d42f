//! Routes a daemon owns, told apart from everyone else's by the routing protocol number the
//! kernel keeps with each route (`ip route … proto N`), as routing daemons (bird, calico) do:
//! a dump filtered by that number is exactly the set the daemon must reconcile.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteProtocol, RouteScope,
    RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_REPLACE};

use crate::error::Result;
use crate::handle::Netlink;

/// A unicast route in the main table, owned by `protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtoRoute {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    pub oif: u32,
    /// The gateway is on the link even though no address of the link covers it (a VXLAN
    /// device whose only address is a /32).
    pub onlink: bool,
    pub protocol: u8,
}

// === impl ProtoRoute ===

impl ProtoRoute {
    fn message(&self) -> RouteMessage {
        let mut msg = RouteMessage::default();
        msg.header = RouteHeader {
            address_family: if self.dst.addr().is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            },
            destination_prefix_length: self.dst.prefix_len(),
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::from(self.protocol),
            scope: if self.gw.is_some() {
                RouteScope::Universe
            } else {
                RouteScope::Link
            },
            kind: RouteType::Unicast,
            flags: if self.onlink {
                RouteFlags::Onlink
            } else {
                RouteFlags::empty()
            },
            ..Default::default()
        };
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                self.dst.network(),
            )));
        if let Some(gw) = self.gw {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        msg.attributes.push(RouteAttribute::Oif(self.oif));
        msg
    }
}

impl std::fmt::Display for ProtoRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dst)?;
        if let Some(gw) = self.gw {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev #{}", self.oif)?;
        if self.onlink {
            write!(f, " onlink")?;
        }
        write!(f, " proto {}", self.protocol)
    }
}

// === impl Netlink: routes by protocol ===

impl Netlink {
    /// Installs `route`, replacing the main table's route to the same destination.
    pub async fn replace_proto_route(&self, route: &ProtoRoute) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::NewRoute(route.message()),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace route {route}"),
        )
        .await
    }

    pub async fn del_proto_route(&self, route: &ProtoRoute) -> Result<()> {
        let mut msg = route.message();
        // Deletion matches on what is given; an unspecified scope matches any.
        msg.header.scope = RouteScope::NoWhere;
        self.ack(RouteNetlinkMessage::DelRoute(msg), 0, || {
            format!("delete route {route}")
        })
        .await
    }

    /// The main table's unicast routes of both families that carry `protocol`.
    pub async fn proto_routes(&self, protocol: u8) -> Result<Vec<ProtoRoute>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut req = RouteMessage::default();
            req.header.address_family = family;
            let answers = self
                .dump(RouteNetlinkMessage::GetRoute(req), || {
                    format!("list {family:?} routes of protocol {protocol}")
                })
                .await?;
            out.extend(answers.into_iter().filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => from_message(r, protocol),
                _ => None,
            }));
        }
        Ok(out)
    }
}

fn from_message(msg: RouteMessage, protocol: u8) -> Option<ProtoRoute> {
    let h = &msg.header;
    if u8::from(h.protocol) != protocol
        || h.kind != RouteType::Unicast
        || h.table != RouteHeader::RT_TABLE_MAIN
    {
        return None;
    }
    let mut dst = None;
    let mut gw = None;
    let mut oif = None;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dst = ip_of(a),
            RouteAttribute::Gateway(a) => gw = ip_of(a),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    let dst = match (dst, h.address_family) {
        (Some(ip), _) => IpNet::new(ip, h.destination_prefix_length).ok()?,
        (None, AddressFamily::Inet6) => IpNet::V6(Default::default()),
        (None, _) => IpNet::V4(Default::default()),
    };
    Some(ProtoRoute {
        dst,
        gw,
        oif: oif?,
        onlink: h.flags.contains(RouteFlags::Onlink),
        protocol,
    })
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}
