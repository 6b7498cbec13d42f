//! VXLAN devices: created in one request with every parameter an overlay needs, and read back
//! so a caller can tell whether an existing device still matches what it wants.

use std::net::Ipv4Addr;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage,
};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};

use crate::error::{Error, Result};
use crate::handle::Netlink;
use crate::link::{Link, Mac};

/// A VXLAN device with static forwarding: the peers come from FDB entries written by the
/// caller, never from multicast or learning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VxlanSpec {
    pub name: String,
    pub vni: u32,
    /// UDP destination port (8472 is Linux's historical default and flannel's).
    pub port: u16,
    /// Source address of the encapsulated packets: the node's own address.
    pub local: Ipv4Addr,
    /// Index of the underlay link the tunnel is bound to.
    pub underlay: u32,
    pub mtu: u32,
    pub mac: Mac,
    /// Learning off: a remote MAC is only reachable through an FDB entry the caller wrote.
    pub learning: bool,
}

/// A VXLAN device as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vxlan {
    pub link: Link,
    pub vni: Option<u32>,
    pub port: Option<u16>,
    pub local: Option<Ipv4Addr>,
    pub underlay: Option<u32>,
    pub learning: Option<bool>,
}

// === impl Vxlan ===

impl Vxlan {
    /// Whether this device is the one `spec` describes (ignoring its up/down state).
    pub fn matches(&self, spec: &VxlanSpec) -> bool {
        self.link.name == spec.name
            && self.vni == Some(spec.vni)
            && self.port == Some(spec.port)
            && self.local == Some(spec.local)
            && self.underlay == Some(spec.underlay)
            && self.learning == Some(spec.learning)
            && self.link.mtu == spec.mtu
            && self.link.mac == spec.mac
    }
}

// === impl Netlink: vxlan ===

impl Netlink {
    /// Creates the device `spec` describes, up. Fails with EEXIST when a link of that name
    /// exists.
    pub async fn add_vxlan(&self, spec: &VxlanSpec) -> Result<()> {
        let msg = rtnetlink::LinkVxlan::new(&spec.name, spec.vni)
            .dev(spec.underlay)
            .port(spec.port)
            .local(spec.local)
            .learning(spec.learning)
            .mtu(spec.mtu)
            .address(spec.mac.0.to_vec())
            .up()
            .build();
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            || {
                format!(
                    "create vxlan {:?} (vni {}, port {}, local {})",
                    spec.name, spec.vni, spec.port, spec.local
                )
            },
        )
        .await
    }

    /// The VXLAN device called `name`; `None` if there is no link of that name, an error if
    /// the link is of another kind.
    pub async fn vxlan(&self, name: &str) -> Result<Option<Vxlan>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        let answer = match self
            .get(RouteNetlinkMessage::GetLink(msg), || {
                format!("get link {name:?}")
            })
            .await
        {
            Ok(Some(RouteNetlinkMessage::NewLink(m))) => m,
            Ok(_) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let infos: Vec<InfoVxlan> = answer
            .attributes
            .iter()
            .filter_map(|a| match a {
                LinkAttribute::LinkInfo(infos) => Some(infos),
                _ => None,
            })
            .flatten()
            .filter_map(|i| match i {
                LinkInfo::Data(InfoData::Vxlan(v)) => Some(v.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let link = Link::from_message(answer);
        if link.kind.as_deref() != Some(InfoKind::Vxlan.to_string().as_str()) {
            return Err(Error::WrongKind {
                netns: self.netns().to_owned(),
                name: link.name,
                kind: link.kind.unwrap_or_else(|| "link without a kind".into()),
                want: "vxlan",
            });
        }
        let mut out = Vxlan {
            link,
            vni: None,
            port: None,
            local: None,
            underlay: None,
            learning: None,
        };
        for info in infos {
            match info {
                InfoVxlan::Id(v) => out.vni = Some(v),
                InfoVxlan::Port(p) => out.port = Some(p),
                InfoVxlan::Local(l) => out.local = Some(l),
                InfoVxlan::Link(i) => out.underlay = Some(i),
                InfoVxlan::Learning(l) => out.learning = Some(l),
                _ => {}
            }
        }
        Ok(Some(out))
    }
}
