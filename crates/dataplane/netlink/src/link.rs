//! Links: lookup, the node bridge, veth pairs whose peer is born in another namespace, bridge
//! port flags, and deletion.

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};

use crate::error::{Error, Result};
use crate::handle::Netlink;

/// An Ethernet address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

/// A link as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `bridge`, `veth`, … (absent for `lo` and other kind-less links).
    pub kind: Option<String>,
    pub mac: Mac,
    pub mtu: u32,
    /// The bridge (or other controller) this link is enslaved to.
    pub master: Option<u32>,
    pub up: bool,
    pub promisc: bool,
    /// The bridge port's hairpin mode, when the link is a bridge port.
    pub hairpin: Option<bool>,
}

/// The node bridge to create when it is missing.
#[derive(Clone, Debug, Default)]
pub struct BridgeSpec<'a> {
    pub name: &'a str,
    pub mtu: Option<u32>,
    pub promisc: bool,
    /// Set explicitly so the bridge keeps it; otherwise a bridge takes the lowest MAC of its
    /// ports, and its address changes under the pods as ports come and go.
    pub mac: Option<Mac>,
}

/// A veth pair: this end stays in the socket's namespace, the peer is created directly in
/// `peer_netns` under its final name (no rename, no move after the fact). This end comes up;
/// the peer is left down for its own namespace to configure.
#[derive(Clone, Debug)]
pub struct VethSpec<'a> {
    pub name: &'a str,
    pub peer_name: &'a str,
    pub peer_netns: Option<BorrowedFd<'a>>,
    pub mtu: Option<u32>,
    /// Enslave this end to the bridge with this index at creation.
    pub master: Option<u32>,
}

/// Attributes to change on an existing link; `None` leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct LinkChange {
    pub up: Option<bool>,
    pub mtu: Option<u32>,
    pub promisc: Option<bool>,
    pub master: Option<u32>,
}

// === impl Mac ===

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl Mac {
    /// A locally administered unicast address from arbitrary bytes (e.g. a hash).
    pub fn local_from(bytes: [u8; 6]) -> Self {
        let mut mac = bytes;
        mac[0] = (mac[0] & 0xfe) | 0x02;
        Mac(mac)
    }
}

// === impl Link ===

impl Link {
    pub(crate) fn from_message(msg: LinkMessage) -> Self {
        let mut link = Link {
            index: msg.header.index,
            name: String::new(),
            kind: None,
            mac: Mac::default(),
            mtu: 0,
            master: None,
            up: msg.header.flags.contains(LinkFlags::Up),
            promisc: msg.header.flags.contains(LinkFlags::Promisc),
            hairpin: None,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => link.name = n,
                LinkAttribute::Mtu(m) => link.mtu = m,
                LinkAttribute::Controller(m) => link.master = Some(m),
                LinkAttribute::Address(a) => {
                    if let Ok(bytes) = <[u8; 6]>::try_from(a.as_slice()) {
                        link.mac = Mac(bytes);
                    }
                }
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(k) => link.kind = Some(k.to_string()),
                            LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                                link.hairpin = port.iter().find_map(|p| match p {
                                    InfoBridgePort::HairpinMode(h) => Some(*h),
                                    _ => None,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

// === impl Netlink: links ===

impl Netlink {
    /// The link called `name`, if there is one.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self
            .get(RouteNetlinkMessage::GetLink(msg), || {
                format!("get link {name:?}")
            })
            .await
        {
            Ok(Some(RouteNetlinkMessage::NewLink(m))) => Ok(Some(Link::from_message(m))),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The link called `name`; an error naming it if there is none.
    pub async fn link(&self, name: &str) -> Result<Link> {
        self.link_by_name(name)
            .await?
            .ok_or_else(|| Error::LinkNotFound {
                netns: self.netns().to_owned(),
                name: name.to_owned(),
            })
    }

    /// Every link in the namespace.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let answers = self
            .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), || {
                "list links".to_owned()
            })
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(Link::from_message(l)),
                _ => None,
            })
            .collect())
    }

    /// The bridge `spec.name`: reused (and brought up, made promiscuous if asked) when it
    /// exists, created up otherwise. A link of that name that is not a bridge is an error.
    pub async fn ensure_bridge(&self, spec: &BridgeSpec<'_>) -> Result<Link> {
        if let Some(existing) = self.link_by_name(spec.name).await? {
            return self.reuse_bridge(spec, existing).await;
        }
        let mut builder = rtnetlink::LinkBridge::new(spec.name).up();
        if let Some(mtu) = spec.mtu {
            builder = builder.mtu(mtu);
        }
        if spec.promisc {
            builder = builder.promiscuous(true);
        }
        if let Some(mac) = spec.mac {
            builder = builder.address(mac.0.to_vec());
        }
        let created = self
            .ack(
                RouteNetlinkMessage::NewLink(builder.build()),
                NLM_F_CREATE | NLM_F_EXCL,
                || format!("create bridge {:?}", spec.name),
            )
            .await;
        match created {
            Ok(()) => self.link(spec.name).await,
            // Another plugin invocation created it first: use theirs.
            Err(e) if e.is_exists() => {
                let existing = self.link(spec.name).await?;
                self.reuse_bridge(spec, existing).await
            }
            Err(e) => Err(e),
        }
    }

    async fn reuse_bridge(&self, spec: &BridgeSpec<'_>, mut link: Link) -> Result<Link> {
        if link.kind.as_deref() != Some("bridge") {
            return Err(Error::WrongKind {
                netns: self.netns().to_owned(),
                name: link.name,
                kind: link.kind.unwrap_or_else(|| "link without a kind".into()),
                want: "bridge",
            });
        }
        let change = LinkChange {
            up: (!link.up).then_some(true),
            promisc: (spec.promisc && !link.promisc).then_some(true),
            ..Default::default()
        };
        if change.up.is_some() || change.promisc.is_some() {
            self.change_link(&link, &change).await?;
            link.up = true;
            link.promisc |= spec.promisc;
        }
        Ok(link)
    }

    /// Creates a veth pair in one request (see [`VethSpec`]).
    pub async fn add_veth(&self, spec: &VethSpec<'_>) -> Result<()> {
        // The peer cannot be brought up in the same request: the kernel configures it
        // before the two ends are linked, and opening an unlinked veth fails (ENOTCONN).
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(spec.peer_name.to_owned()));
        if let Some(mtu) = spec.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(fd) = spec.peer_netns {
            peer.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        msg.attributes
            .push(LinkAttribute::IfName(spec.name.to_owned()));
        if let Some(mtu) = spec.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(master) = spec.master {
            msg.attributes.push(LinkAttribute::Controller(master));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.ack(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            || format!("create veth pair {:?} / {:?}", spec.name, spec.peer_name),
        )
        .await
    }

    /// Changes the given attributes of `link` in one request.
    pub async fn change_link(&self, link: &Link, change: &LinkChange) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = link.index;
        for (flag, on) in [
            (LinkFlags::Up, change.up),
            (LinkFlags::Promisc, change.promisc),
        ] {
            if let Some(on) = on {
                msg.header.change_mask |= flag;
                if on {
                    msg.header.flags |= flag;
                }
            }
        }
        if let Some(mtu) = change.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(master) = change.master {
            msg.attributes.push(LinkAttribute::Controller(master));
        }
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, || {
            format!("change link {:?} ({change:?})", link.name)
        })
        .await
    }

    /// Sets the hairpin mode of a bridge port (traffic may leave by the port it came in).
    pub async fn set_hairpin(&self, port: &Link, on: bool) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = port.index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )])),
        ]));
        // Port attributes are only accepted through NEWLINK (not SETLINK).
        self.ack(RouteNetlinkMessage::NewLink(msg), 0, || {
            format!("set hairpin mode {on} on bridge port {:?}", port.name)
        })
        .await
    }

    /// Deletes the link called `name`; `false` if there was none.
    pub async fn delete_link(&self, name: &str) -> Result<bool> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self
            .ack(RouteNetlinkMessage::DelLink(msg), 0, || {
                format!("delete link {name:?}")
            })
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
