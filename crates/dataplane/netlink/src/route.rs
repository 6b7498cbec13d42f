//! Routes in the main table (or another, when asked).

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};

use crate::error::Result;
use crate::handle::Netlink;

/// A route to install: `dst` via `gw` (or directly) out of `oif`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: Option<IpNet>,
    pub gw: Option<IpAddr>,
    pub oif: Option<u32>,
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    pub priority: Option<u32>,
    pub table: Option<u32>,
    /// The kernel's scope number; by default `link` for a route without gateway, else
    /// `universe`.
    pub scope: Option<u8>,
}

/// A route as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    pub oif: Option<u32>,
    pub table: u32,
    pub priority: Option<u32>,
    pub scope: u8,
    pub mtu: Option<u32>,
    /// Unicast routes only are what a pod's routing is made of; local/broadcast entries
    /// are the kernel's own bookkeeping.
    pub unicast: bool,
}

// === impl RouteSpec ===

impl RouteSpec {
    fn dst_or_default(&self) -> IpNet {
        self.dst.unwrap_or_else(|| match self.gw {
            Some(IpAddr::V6(_)) => IpNet::V6(Default::default()),
            _ => IpNet::V4(Default::default()),
        })
    }

    fn message(&self) -> RouteMessage {
        let dst = self.dst_or_default();
        let mut header = RouteHeader {
            address_family: if dst.addr().is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            },
            destination_prefix_length: dst.prefix_len(),
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Boot,
            scope: match (self.scope, self.gw) {
                (Some(s), _) => RouteScope::from(s),
                (None, None) => RouteScope::Link,
                (None, Some(_)) => RouteScope::Universe,
            },
            kind: RouteType::Unicast,
            ..Default::default()
        };
        let mut attrs = Vec::new();
        if dst.prefix_len() > 0 {
            attrs.push(RouteAttribute::Destination(RouteAddress::from(
                dst.network(),
            )));
        }
        if let Some(gw) = self.gw {
            attrs.push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        }
        if let Some(oif) = self.oif {
            attrs.push(RouteAttribute::Oif(oif));
        }
        if let Some(p) = self.priority {
            attrs.push(RouteAttribute::Priority(p));
        }
        match self.table {
            Some(t) if t < 256 => header.table = t as u8,
            Some(t) => {
                header.table = RouteHeader::RT_TABLE_UNSPEC;
                attrs.push(RouteAttribute::Table(t));
            }
            None => {}
        }
        let mut metrics = Vec::new();
        if let Some(mtu) = self.mtu {
            metrics.push(RouteMetric::Mtu(mtu));
        }
        if let Some(advmss) = self.advmss {
            metrics.push(RouteMetric::Advmss(advmss));
        }
        if !metrics.is_empty() {
            attrs.push(RouteAttribute::Metrics(metrics));
        }
        let mut msg = RouteMessage::default();
        msg.header = header;
        msg.attributes = attrs;
        msg
    }
}

impl std::fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dst_or_default())?;
        if let Some(gw) = self.gw {
            write!(f, " via {gw}")?;
        }
        if let Some(oif) = self.oif {
            write!(f, " dev #{oif}")?;
        }
        Ok(())
    }
}

// === impl Netlink: routes ===

impl Netlink {
    /// Adds a route; fails with EEXIST when an identical one is there.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::NewRoute(spec.message()),
            NLM_F_CREATE | NLM_F_EXCL,
            || format!("add route {spec}"),
        )
        .await
    }

    /// Adds a route or replaces the one to the same destination.
    pub async fn replace_route(&self, spec: &RouteSpec) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::NewRoute(spec.message()),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace route {spec}"),
        )
        .await
    }

    pub async fn del_route(&self, spec: &RouteSpec) -> Result<()> {
        let mut msg = spec.message();
        // Deletion matches on what is given; an unspecified scope matches any.
        msg.header.scope = RouteScope::NoWhere;
        self.ack(RouteNetlinkMessage::DelRoute(msg), 0, || {
            format!("delete route {spec}")
        })
        .await
    }

    /// Every route of every table, both families.
    pub async fn routes(&self) -> Result<Vec<RouteEntry>> {
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut msg = RouteMessage::default();
            msg.header.address_family = family;
            let answers = self
                .dump(RouteNetlinkMessage::GetRoute(msg), || {
                    format!("list {family:?} routes")
                })
                .await?;
            out.extend(answers.into_iter().filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => from_message(r),
                _ => None,
            }));
        }
        Ok(out)
    }
}

fn from_message(msg: RouteMessage) -> Option<RouteEntry> {
    let v4 = msg.header.address_family == AddressFamily::Inet;
    let mut dst = None;
    let mut entry = RouteEntry {
        dst: if v4 {
            IpNet::V4(Default::default())
        } else {
            IpNet::V6(Default::default())
        },
        gw: None,
        oif: None,
        table: u32::from(msg.header.table),
        priority: None,
        scope: u8::from(msg.header.scope),
        mtu: None,
        unicast: msg.header.kind == RouteType::Unicast,
    };
    for attr in msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dst = ip_of(a),
            RouteAttribute::Gateway(a) => entry.gw = ip_of(a),
            RouteAttribute::Oif(i) => entry.oif = Some(i),
            RouteAttribute::Table(t) => entry.table = t,
            RouteAttribute::Priority(p) => entry.priority = Some(p),
            RouteAttribute::Metrics(ms) => {
                entry.mtu = ms.iter().find_map(|m| match m {
                    RouteMetric::Mtu(v) => Some(*v),
                    _ => None,
                });
            }
            _ => {}
        }
    }
    if let Some(ip) = dst {
        entry.dst = IpNet::new(ip, msg.header.destination_prefix_length).ok()?;
    }
    Some(entry)
}

fn ip_of(a: RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(v6)),
        _ => None,
    }
}
