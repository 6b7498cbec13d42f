//! Interface addresses.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};

use crate::error::Result;
use crate::handle::Netlink;

/// An address on an interface, with its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub addr: IpNet,
    /// IPv6 duplicate address detection was skipped (IFA_F_NODAD).
    pub nodad: bool,
    /// Still undergoing duplicate address detection (IFA_F_TENTATIVE): not usable yet.
    pub tentative: bool,
}

// === impl Netlink: addresses ===

impl Netlink {
    /// Adds `addr` to the link `index`. IPv6 addresses are added with NODAD, so they are
    /// usable at once instead of after a second of duplicate address detection.
    /// Fails with EEXIST when the address is already there.
    pub async fn add_address(&self, index: u32, addr: IpNet) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::NewAddress(message(index, addr)),
            NLM_F_CREATE | NLM_F_EXCL,
            || format!("add address {addr} to link #{index}"),
        )
        .await
    }

    /// Adds `addr`, or updates it in place if it is already there.
    pub async fn replace_address(&self, index: u32, addr: IpNet) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::NewAddress(message(index, addr)),
            NLM_F_CREATE | NLM_F_REPLACE,
            || format!("replace address {addr} on link #{index}"),
        )
        .await
    }

    pub async fn del_address(&self, index: u32, addr: IpNet) -> Result<()> {
        self.ack(
            RouteNetlinkMessage::DelAddress(message(index, addr)),
            0,
            || format!("delete address {addr} from link #{index}"),
        )
        .await
    }

    /// The addresses of link `index`, or of every link.
    pub async fn addresses(&self, index: Option<u32>) -> Result<Vec<Address>> {
        let answers = self
            .dump(
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
                || "list addresses".to_owned(),
            )
            .await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => from_message(a),
                _ => None,
            })
            .filter(|a| index.is_none_or(|i| a.index == i))
            .collect())
    }
}

fn message(index: u32, addr: IpNet) -> AddressMessage {
    let mut msg = match addr.addr() {
        IpAddr::V4(v4) => rtnetlink::AddressMessageBuilder::<std::net::Ipv4Addr>::new()
            .index(index)
            .address(v4, addr.prefix_len())
            .build(),
        IpAddr::V6(v6) => rtnetlink::AddressMessageBuilder::<std::net::Ipv6Addr>::new()
            .index(index)
            .address(v6, addr.prefix_len())
            .build(),
    };
    if addr.addr().is_ipv6() {
        msg.header.flags |= AddressHeaderFlags::Nodad;
        msg.attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    msg
}

fn from_message(msg: AddressMessage) -> Option<Address> {
    let mut local = None;
    let mut address = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    for attr in msg.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(ip),
            AddressAttribute::Address(ip) => address = Some(ip),
            AddressAttribute::Flags(f) => flags = f,
            _ => {}
        }
    }
    // For IPv4 IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on
    // point-to-point links); IPv6 only sends IFA_ADDRESS.
    let ip = if msg.header.family == AddressFamily::Inet {
        local.or(address)
    } else {
        address.or(local)
    }?;
    Some(Address {
        index: msg.header.index,
        addr: IpNet::new(ip, msg.header.prefix_len).ok()?,
        nodad: flags.contains(AddressFlags::Nodad),
        tentative: flags.contains(AddressFlags::Tentative),
    })
}
