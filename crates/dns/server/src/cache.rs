//! The cache of upstream answers (CoreDNS's `cache` plugin): positive and negative entries,
//! each class bounded, TTLs counted down from the time of storage, and prefetch of popular
//! entries shortly before they expire.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use foldhash::fast::RandomState;
use podnet_dns_records::wire::MAX_NAME;
use podnet_dns_records::wire::{
    self, Query, RCODE_NOERROR, RCODE_NXDOMAIN, Response, Section, TYPE_OPT, TYPE_SOA,
};

use crate::corefile::{Cache as CacheConf, CacheClass};

const SHARDS: usize = 16;

/// A cache key: the lower-cased name, type, class and the DO/CD bits (answers differ by them).
pub struct Key {
    buf: [u8; MAX_NAME + 5],
    len: usize,
}

/// A message as an upstream answered it, ready to be re-sent with a client's ID and question.
pub struct Entry {
    /// The upstream's message without its OPT record.
    msg: Box<[u8]>,
    counts: [u16; 3],
    ttl_at: Box<[u32]>,
    pub rcode: u8,
    /// Negative (NXDOMAIN or NODATA).
    pub denial: bool,
    /// Seconds the entry lives; `None` when it is not cacheable (its TTLs are left as sent).
    pub ttl: Option<u32>,
    stored: Instant,
    hits: AtomicU32,
    prefetching: AtomicBool,
}

type Shard = Mutex<HashMap<Box<[u8]>, Arc<Entry>, RandomState>>;

pub struct Cache {
    pub conf: CacheConf,
    shards: Box<[Shard]>,
    counts: [AtomicUsize; 2],
}

// === impl Key ===

impl Key {
    pub fn of(q: &Query<'_>) -> Key {
        Key::of_parts(q.qname.wire(), q)
    }

    /// The key of another name asked with `q`'s type, class and bits.
    pub fn of_parts(name: &[u8], q: &Query<'_>) -> Key {
        let mut buf = [0u8; MAX_NAME + 5];
        buf[..name.len()].copy_from_slice(name);
        let mut at = name.len();
        buf[at..at + 2].copy_from_slice(&q.qtype.to_be_bytes());
        buf[at + 2..at + 4].copy_from_slice(&q.qclass.to_be_bytes());
        let do_bit = q.edns.is_some_and(|e| e.dnssec_ok) as u8;
        let cd = (q.flags & wire::FLAG_CD != 0) as u8;
        buf[at + 4] = do_bit | (cd << 1);
        at += 5;
        Key { buf, len: at }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn name(&self) -> &[u8] {
        &self.buf[..self.len - 5]
    }
}

// === impl Entry ===

impl Entry {
    /// Reads an upstream's answer; `None` when it is malformed. Whether and how long it may
    /// be cached follows RFC 2308 and CoreDNS: the smallest answer TTL for a positive
    /// answer, min(SOA TTL, SOA minimum) for a negative one, clamped to the class's bounds;
    /// truncated answers and errors are not cached.
    pub fn from_upstream(
        msg: &[u8],
        now: Instant,
        classes: Option<(CacheClass, CacheClass)>,
    ) -> Option<Entry> {
        let (_, rrs) = wire::walk(msg)?;
        let mut keep_end = msg.len();
        let mut counts = [
            u16::from_be_bytes([msg[6], msg[7]]),
            u16::from_be_bytes([msg[8], msg[9]]),
            0,
        ];
        let mut ttl_at = Vec::new();
        for rr in &rrs {
            if rr.rtype == TYPE_OPT {
                // Everything from the OPT on is dropped: later records could point into it.
                keep_end = rr.start;
                break;
            }
            if rr.section == Section::Additional {
                counts[2] += 1;
            }
            ttl_at.push(rr.ttl_at as u32);
        }
        let mut m = msg[..keep_end].to_vec();
        m[10..12].copy_from_slice(&counts[2].to_be_bytes());
        let rcode = msg[3] & 0x0F;
        let truncated = msg[2] & 0x02 != 0;
        let answers: Vec<_> = rrs
            .iter()
            .filter(|r| r.section == Section::Answer)
            .collect();
        let denial = rcode == RCODE_NXDOMAIN || (rcode == RCODE_NOERROR && answers.is_empty());
        let ttl = match classes {
            Some((success, denial_class))
                if !truncated && (rcode == RCODE_NOERROR || rcode == RCODE_NXDOMAIN) =>
            {
                if denial {
                    let soa = rrs
                        .iter()
                        .find(|r| r.section == Section::Authority && r.rtype == TYPE_SOA)
                        .and_then(|r| {
                            let end = r.rdata_at + r.rdlen as usize;
                            let minimum =
                                u32::from_be_bytes(msg.get(end - 4..end)?.try_into().ok()?);
                            Some(r.ttl.min(minimum))
                        });
                    let t = soa.unwrap_or(denial_class.min_ttl);
                    Some(t.clamp(
                        denial_class.min_ttl.min(denial_class.max_ttl),
                        denial_class.max_ttl,
                    ))
                } else {
                    let t = answers
                        .iter()
                        .map(|r| r.ttl)
                        .min()
                        .unwrap_or(success.min_ttl);
                    Some(t.clamp(success.min_ttl.min(success.max_ttl), success.max_ttl))
                }
            }
            _ => None,
        };
        Some(Entry {
            msg: m.into(),
            counts,
            ttl_at: ttl_at.into(),
            rcode,
            denial,
            ttl,
            stored: now,
            hits: AtomicU32::new(0),
            prefetching: AtomicBool::new(false),
        })
    }

    /// Seconds left, `None` once expired (or when the entry is not cacheable).
    pub fn remaining(&self, now: Instant) -> Option<u32> {
        let ttl = self.ttl?;
        let age = now.saturating_duration_since(self.stored).as_secs() as u32;
        (age < ttl).then(|| ttl - age)
    }

    /// Writes the answer for `q` into `out`: the client's ID and question, TTLs counted
    /// down, OPT and truncation for the client's limit. Returns (rcode, truncated).
    pub fn render(
        &self,
        q: &Query<'_>,
        now: Instant,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> (u8, bool) {
        out.clear();
        out.extend_from_slice(&self.msg);
        if let Some(left) = self.remaining(now) {
            for &at in self.ttl_at.iter() {
                let at = at as usize;
                out[at..at + 4].copy_from_slice(&left.to_be_bytes());
            }
        }
        let r = Response::resume(out, q, self.counts);
        let rcode = r.rcode();
        (rcode, r.finish(limit))
    }

    /// The answer-section records with every name written out in full (for appending to
    /// another message): owner, type, class, TTL, and rdata with names expanded for the
    /// types whose data is one name. Records of other types carrying names are skipped.
    pub fn answers_expanded(&self) -> (Vec<u8>, u16) {
        let mut out = Vec::new();
        let mut n = 0;
        let Some((_, rrs)) = wire::walk(&self.msg) else {
            return (out, 0);
        };
        for rr in rrs.iter().filter(|r| r.section == Section::Answer) {
            let Some((owner, _)) = wire::read_name(&self.msg, rr.start) else {
                continue;
            };
            let rdata = &self.msg[rr.rdata_at..rr.rdata_at + rr.rdlen as usize];
            let expanded;
            let data: &[u8] = match rr.rtype {
                wire::TYPE_CNAME | wire::TYPE_PTR | wire::TYPE_NS => {
                    let Some((name, _)) = wire::read_name(&self.msg, rr.rdata_at) else {
                        continue;
                    };
                    expanded = name;
                    expanded.wire()
                }
                wire::TYPE_A | wire::TYPE_AAAA | wire::TYPE_TXT => rdata,
                _ => continue,
            };
            out.extend_from_slice(owner.wire());
            out.extend_from_slice(&rr.rtype.to_be_bytes());
            out.extend_from_slice(&wire::CLASS_IN.to_be_bytes());
            out.extend_from_slice(&rr.ttl.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
            n += 1;
        }
        (out, n)
    }

    /// Counts a hit; true when this hit should trigger a prefetch: the entry was asked for
    /// at least `amount` times in its life (which is at most the TTL; CoreDNS counts within
    /// `window`), at most `percentage` of its TTL is left, and no prefetch runs for it.
    fn hit(&self, left: u32, conf: &CacheConf) -> bool {
        let hits = self.hits.fetch_add(1, Relaxed) + 1;
        let Some(p) = conf.prefetch else { return false };
        let ttl = self.ttl.unwrap_or(0) as u64;
        hits >= p.amount
            && (left as u64) * 100 <= ttl * p.percentage as u64
            && !self.prefetching.swap(true, Relaxed)
    }
}

// === impl Cache ===

impl Cache {
    pub fn new(conf: CacheConf) -> Self {
        Cache {
            conf,
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            counts: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    fn shard(&self, key: &[u8]) -> &Shard {
        let h = key
            .iter()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(*b as u32));
        &self.shards[h as usize % SHARDS]
    }

    /// Whether this cache keeps answers for `name` (its zones, if any were listed).
    pub fn covers(&self, name: &[u8]) -> bool {
        self.conf.zones.is_empty()
            || self
                .conf
                .zones
                .iter()
                .any(|z| wire::is_under(name, z.wire()))
    }

    /// A live entry, and whether this hit asks for a prefetch.
    pub fn get(&self, key: &Key, now: Instant) -> Option<(Arc<Entry>, bool)> {
        let entry = self
            .shard(key.bytes())
            .lock()
            .unwrap()
            .get(key.bytes())
            .cloned()?;
        let left = entry.remaining(now)?;
        let prefetch = entry.hit(left, &self.conf);
        Some((entry, prefetch))
    }

    /// Stores a cacheable entry, evicting one of the same class when that class is full.
    /// Returns whether an entry was evicted.
    pub fn insert(&self, key: &Key, entry: Arc<Entry>) -> bool {
        if entry.ttl.is_none() {
            return false;
        }
        let disabled = if entry.denial {
            &self.conf.disable_denial
        } else {
            &self.conf.disable_success
        };
        if disabled
            .iter()
            .any(|z| wire::is_under(key.name(), z.wire()))
        {
            return false;
        }
        let class = entry.denial as usize;
        let capacity = if entry.denial {
            self.conf.denial.capacity
        } else {
            self.conf.success.capacity
        };
        if capacity == 0 {
            return false;
        }
        let mut shard = self.shard(key.bytes()).lock().unwrap();
        let mut evicted = false;
        if !shard.contains_key(key.bytes()) && self.counts[class].load(Relaxed) >= capacity {
            let now = Instant::now();
            let victim = shard
                .iter()
                .find(|(_, e)| e.remaining(now).is_none())
                .or_else(|| shard.iter().find(|(_, e)| e.denial == entry.denial))
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    if let Some(old) = shard.remove(&k) {
                        self.counts[old.denial as usize].fetch_sub(1, Relaxed);
                    }
                    evicted = true;
                }
                // Full, but nothing of this class lives in this shard: do not grow.
                None => return false,
            }
        }
        if let Some(old) = shard.insert(key.bytes().into(), entry) {
            self.counts[old.denial as usize].fetch_sub(1, Relaxed);
        }
        self.counts[class].fetch_add(1, Relaxed);
        evicted
    }

    /// (success, denial) entries held.
    pub fn len(&self) -> (usize, usize) {
        (self.counts[0].load(Relaxed), self.counts[1].load(Relaxed))
    }

    pub fn classes(&self) -> (CacheClass, CacheClass) {
        (self.conf.success, self.conf.denial)
    }
}
