//! Reading a table back over nf_tables netlink instead of parsing `nft list`: chains with
//! their base definition and handle, rules' handles and comments, sets and maps with their
//! declaration and typed elements. One socket, opened on a thread that entered the target
//! namespace (a netlink socket stays bound to the namespace it was opened in); dumps filtered
//! by table in the kernel.

mod decode;
mod elements;
mod encode;
mod linearize;
mod wire;
mod writer;

pub use writer::{BatchTiming, NetlinkExecutor};

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, NfTablesMessage, RuleAttribute, RuleMessage, SetAttribute,
    SetElementList, SetElementMessage, SetMessage, TableAttribute, TableMessage,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::dump::SetDump;
use crate::error::{Error, Result};
use crate::object::{BaseChain, TableId};
use crate::types::Family;

/// A rule as the kernel holds it: its handle and comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRule {
    pub handle: u64,
    pub comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedChain {
    pub handle: u64,
    pub base: Option<BaseChain>,
    pub rules: Vec<ListedRule>,
}

/// One table as read over netlink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    pub chains: BTreeMap<String, ListedChain>,
    /// Named sets and maps (anonymous ones belong to their rules and are left out).
    pub sets: BTreeMap<String, SetDump>,
}

/// The names in a table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub chains: BTreeSet<String>,
    pub sets: BTreeSet<String>,
}

/// Reads tables of one network namespace (`None`: the caller's own) over netlink.
#[derive(Clone, Debug, Default)]
pub struct NetlinkReader {
    netns: Option<PathBuf>,
}

// === impl NetlinkReader ===

impl NetlinkReader {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            netns: netns.map(Path::to_owned),
        }
    }

    /// The table `id`; `None` if it does not exist.
    pub fn read(&self, id: &TableId) -> Result<Option<Listing>> {
        self.on_socket(id, |sock| read_table(sock, id))
    }

    /// The declarations of the table's named sets and maps; `None` if it does not exist.
    pub fn set_decls(&self, id: &TableId) -> Result<Option<Vec<crate::object::SetDecl>>> {
        self.on_socket(id, |sock| {
            if !table_exists(sock, id)? {
                return Ok(None);
            }
            sets(sock, id).map(Some)
        })
    }

    /// Only the names of the table's chains and named sets (no rules, no elements: what a
    /// full sync needs to find stale objects, cheap at tens of thousands of Services).
    pub fn names(&self, id: &TableId) -> Result<Option<Names>> {
        self.on_socket(id, |sock| {
            if !table_exists(sock, id)? {
                return Ok(None);
            }
            let chains = chains(sock, id)?.into_keys().collect();
            let sets = sets(sock, id)?.into_iter().map(|d| d.name).collect();
            Ok(Some(Names { chains, sets }))
        })
    }

    /// Runs `work` with a socket opened in the namespace (on a thread that entered it).
    fn on_socket<T: Send>(
        &self,
        id: &TableId,
        work: impl FnOnce(&Socket) -> Read<T> + Send,
    ) -> Result<T> {
        let run = || open().and_then(|sock| work(&sock));
        let out = match &self.netns {
            None => run(),
            Some(path) => podnet_netns::run_in(path, run)?,
        };
        out.map_err(|detail| Error::Netlink {
            netns: self.label(),
            table: format!("{} {}", id.family, id.name),
            detail,
        })
    }

    fn label(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(|| "(own)".to_owned(), |p| p.display().to_string())
    }
}

type Read<T> = std::result::Result<T, String>;

fn proto_family(f: Family) -> NetfilterProtoFamily {
    match f {
        Family::Ip => NetfilterProtoFamily::IPv4,
        Family::Ip6 => NetfilterProtoFamily::IPv6,
        Family::Inet => NetfilterProtoFamily::Inet,
    }
}

fn open() -> Read<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER).map_err(|e| format!("socket: {e}"))?;
    sock.bind_auto().map_err(|e| format!("bind: {e}"))?;
    sock.connect(&SocketAddr::new(0, 0))
        .map_err(|e| format!("connect: {e}"))?;
    Ok(sock)
}

/// A plain GET of the table: ENOENT when it is missing.
fn table_exists(sock: &Socket, id: &TableId) -> Read<bool> {
    let get = NfTablesMessage::GetTable(TableMessage {
        attributes: vec![TableAttribute::Name(id.name.clone())],
    });
    match request(sock, proto_family(id.family), get, false) {
        Ok(_) => Ok(true),
        Err(Failure::Errno(e)) if e == libc::ENOENT => Ok(false),
        Err(e) => Err(format!("table: {e}")),
    }
}

fn chains(sock: &Socket, id: &TableId) -> Read<BTreeMap<String, ListedChain>> {
    let get = NfTablesMessage::GetChain(ChainMessage {
        attributes: vec![ChainAttribute::Table(id.name.clone())],
    });
    let mut out = BTreeMap::new();
    for m in
        request(sock, proto_family(id.family), get, true).map_err(|e| format!("chains: {e}"))?
    {
        if let NfTablesMessage::NewChain(c) = m
            && decode::in_table(&c.attributes, &id.name)
        {
            let (name, chain) = decode::chain(&c.attributes)?;
            out.insert(name, chain);
        }
    }
    Ok(out)
}

/// The named sets' declarations.
fn sets(sock: &Socket, id: &TableId) -> Read<Vec<crate::object::SetDecl>> {
    let get = NfTablesMessage::GetSet(SetMessage {
        attributes: vec![SetAttribute::Table(id.name.clone())],
    });
    let mut out = Vec::new();
    for m in request(sock, proto_family(id.family), get, true).map_err(|e| format!("sets: {e}"))? {
        if let NfTablesMessage::NewSet(s) = m
            && let Some(decl) = decode::set(&s.attributes)?
        {
            out.push(decl);
        }
    }
    Ok(out)
}

fn read_table(sock: &Socket, id: &TableId) -> Read<Option<Listing>> {
    if !table_exists(sock, id)? {
        return Ok(None);
    }
    let family = proto_family(id.family);
    let mut listing = Listing {
        chains: chains(sock, id)?,
        sets: BTreeMap::new(),
    };
    let get_rules = NfTablesMessage::GetRule(RuleMessage {
        attributes: vec![RuleAttribute::Table(id.name.clone())],
    });
    for m in request(sock, family, get_rules, true).map_err(|e| format!("rules: {e}"))? {
        if let NfTablesMessage::NewRule(r) = m {
            let (chain, rule) = decode::rule(&r.attributes)?;
            if let Some(c) = listing.chains.get_mut(&chain) {
                c.rules.push(rule);
            }
        }
    }
    for decl in sets(sock, id)? {
        let get = NfTablesMessage::GetSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table(id.name.clone()),
                SetElementList::Set(decl.name.clone()),
            ],
        });
        let replies = request(sock, family, get, true)
            .map_err(|e| format!("elements of {}: {e}", decl.name))?;
        let lists: Vec<&SetElementMessage> = replies
            .iter()
            .filter_map(|m| match m {
                NfTablesMessage::NewSetElement(e) => Some(e),
                _ => None,
            })
            .collect();
        let elements = decode::elements(&decl, &lists)?;
        listing
            .sets
            .insert(decl.name.clone(), SetDump { decl, elements });
    }
    Ok(Some(listing))
}

/// Why a request failed.
#[derive(Debug)]
enum Failure {
    Errno(i32),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Errno(e) => write!(f, "{}", std::io::Error::from_raw_os_error(*e)),
            Failure::Other(s) => f.write_str(s),
        }
    }
}

/// Sends one GET (a dump when `dump`) and collects the nf_tables messages of the answer.
fn request(
    sock: &Socket,
    family: NetfilterProtoFamily,
    msg: NfTablesMessage,
    dump: bool,
) -> std::result::Result<Vec<NfTablesMessage>, Failure> {
    let mut nl = NetlinkMessage::from(NetfilterMessage::new(
        NetfilterHeader::new(family, 0, 0),
        msg,
    ));
    nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
    nl.header.sequence_number = 1;
    nl.finalize();
    let mut buf = vec![0; nl.buffer_len()];
    nl.serialize(&mut buf);
    sock.send(&buf, 0)
        .map_err(|e| Failure::Other(format!("send: {e}")))?;
    let mut out = Vec::new();
    loop {
        let (data, _) = sock
            .recv_from_full()
            .map_err(|e| Failure::Other(format!("recv: {e}")))?;
        let mut offset = 0;
        while offset < data.len() {
            let bytes = &data[offset..];
            let len = NetlinkBuffer::new_checked(bytes)
                .map_err(|e| Failure::Other(format!("netlink header: {e}")))?
                .length() as usize;
            let msg = NetlinkMessage::<NetfilterMessage>::deserialize(&bytes[..len])
                .map_err(|e| Failure::Other(format!("decoding a reply: {e}")))?;
            offset += (len + 3) & !3;
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) => match e.code {
                    None => return Ok(out), // the ACK of a plain GET
                    Some(code) => return Err(Failure::Errno(-code.get())),
                },
                NetlinkPayload::InnerMessage(NetfilterMessage {
                    inner: NetfilterMessageInner::NfTables(m),
                    ..
                }) => {
                    out.push(m);
                    if !dump {
                        // A plain GET answers with the object, then its ACK.
                        continue;
                    }
                }
                _ => {}
            }
        }
    }
}
