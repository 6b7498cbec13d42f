//! The read side: an immutable index from lower-cased wire name to a [`Node`] whose answers
//! are already encoded, split in shards so a change copies only the shards it touches.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::FixedState;

use crate::config::ZoneConfig;
use crate::records::{Piece, Rec};
use crate::wire::{CLASS_IN, Name, TYPE_CNAME, TYPE_SOA};

pub(crate) const SHARDS: usize = 64;

pub(crate) type Shard = HashMap<Name, Arc<Node>, FixedState>;

/// Everything needed to answer for the cluster zones at one moment.
pub struct Snapshot {
    pub(crate) shards: Vec<Arc<Shard>>,
    pub(crate) zones: Vec<ZoneInfo>,
    pub(crate) config: Arc<ZoneConfig>,
    pub(crate) serial: u32,
}

/// A zone this snapshot answers for, with the SOA record negative answers carry.
pub(crate) struct ZoneInfo {
    pub apex: Name,
    pub reverse: bool,
    pub fallthrough: bool,
    /// The SOA record after its owner name (type, class, TTL, rdata); the owner is written
    /// as a pointer into the question at answer time.
    pub soa_tail: Box<[u8]>,
}

/// The records at one name, encoded per type. Owners are the pointer `0xC00C` (the
/// question's name, always at offset 12 of a response), so a set is copied as it is.
#[derive(Debug, Default)]
pub struct Node {
    pub(crate) sets: Box<[RrSet]>,
    /// The CNAME target, when the name is an alias (ExternalName Services).
    pub(crate) cname: Option<Name>,
}

#[derive(Debug)]
pub(crate) struct RrSet {
    pub rtype: u16,
    pub count: u16,
    pub rrs: Box<[u8]>,
    pub extra_count: u16,
    pub extra: Box<[u8]>,
}

// === impl Snapshot ===

impl Snapshot {
    pub fn lookup(&self, wire: &[u8]) -> Option<&Node> {
        let shard = &self.shards[shard_of(wire)];
        shard.get(wire).map(|n| &**n)
    }

    pub fn config(&self) -> &ZoneConfig {
        &self.config
    }

    /// The SOA serial: the time of the last change, as CoreDNS's.
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// How many names the index holds.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The zone (cluster or reverse) that holds `wire`, the deepest one when they nest.
    pub(crate) fn zone_of(&self, wire: &[u8]) -> Option<&ZoneInfo> {
        self.zones
            .iter()
            .filter(|z| crate::wire::is_under(wire, z.apex.wire()))
            .max_by_key(|z| z.apex.len())
    }

    /// Whether a name is answered here at all (cluster or reverse zones).
    pub fn covers(&self, wire: &[u8]) -> bool {
        self.zone_of(wire).is_some()
    }

    /// Every name with its types, sorted: a debug view and what tests compare.
    pub fn dump(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .shards
            .iter()
            .flat_map(|s| s.iter())
            .map(|(name, node)| {
                let types: Vec<&str> = node
                    .sets
                    .iter()
                    .map(|s| crate::wire::type_name(s.rtype))
                    .collect();
                format!("{name} {}", types.join(","))
            })
            .collect();
        out.sort();
        out
    }
}

static SHARD_STATE: FixedState = FixedState::with_seed(0x706f_646e_6574);

pub(crate) fn shard_of(wire: &[u8]) -> usize {
    (SHARD_STATE.hash_one(wire) as usize) % SHARDS
}

pub(crate) fn new_shard() -> Shard {
    HashMap::with_hasher(FixedState::with_seed(0x6b75_6265))
}

// === impl Node ===

impl Node {
    /// Encodes the merged pieces of every owner of `name`.
    pub(crate) fn encode<'a>(pieces: impl Iterator<Item = &'a Piece>, ttl: u32) -> Node {
        let mut rrs: Vec<&Rec> = Vec::new();
        let mut extra: Vec<(&Name, &Rec)> = Vec::new();
        for p in pieces {
            rrs.extend(p.rrs.iter());
            extra.extend(p.extra.iter().map(|(n, r)| (n, r)));
        }
        // Types in a stable order, records deduplicated but otherwise in the order given
        // (the order the endpoints were listed).
        let mut types: Vec<u16> = rrs.iter().map(|r| r.rtype).collect();
        types.sort_unstable();
        types.dedup();
        let mut sets = Vec::with_capacity(types.len());
        let mut cname = None;
        for t in types {
            let mut bytes = Vec::new();
            let mut seen: Vec<&Rec> = Vec::new();
            for r in rrs.iter().filter(|r| r.rtype == t) {
                if seen.contains(r) {
                    continue;
                }
                seen.push(r);
                write_rr(&mut bytes, &[0xC0, 0x0C], r, ttl);
            }
            if t == TYPE_CNAME {
                cname = Some(Name::from_wire(&seen[0].rdata));
            }
            let (mut extra_bytes, mut extra_count, mut extra_seen) = (Vec::new(), 0u16, Vec::new());
            if t == crate::wire::TYPE_SRV {
                for (n, r) in &extra {
                    if extra_seen.contains(&(n, r)) {
                        continue;
                    }
                    extra_seen.push((n, r));
                    write_rr(&mut extra_bytes, n.wire(), r, ttl);
                    extra_count += 1;
                }
            }
            sets.push(RrSet {
                rtype: t,
                count: seen.len() as u16,
                rrs: bytes.into(),
                extra_count,
                extra: extra_bytes.into(),
            });
        }
        Node {
            sets: sets.into(),
            cname,
        }
    }

    pub(crate) fn set(&self, rtype: u16) -> Option<&RrSet> {
        self.sets.iter().find(|s| s.rtype == rtype)
    }
}

fn write_rr(out: &mut Vec<u8>, owner: &[u8], r: &Rec, ttl: u32) {
    out.extend_from_slice(owner);
    out.extend_from_slice(&r.rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&r.rdata);
}

/// The SOA record tail for a zone (see [`ZoneInfo::soa_tail`]).
pub(crate) fn soa_tail(zone: &Name, serial: u32, ttl: u32) -> Box<[u8]> {
    let rec = Rec {
        rtype: TYPE_SOA,
        rdata: crate::records::soa_rdata(zone, serial, ttl).into(),
    };
    let mut out = Vec::new();
    write_rr(&mut out, &[], &rec, ttl);
    out.into()
}

impl Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.wire()
    }
}
