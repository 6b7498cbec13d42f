//! The answer path shared by UDP and TCP: parse, pick the server block, answer from the
//! cluster index or the cache right here ([`Engine::handle`], no allocation, no await), and
//! hand what needs an upstream to [`Engine::slow`].

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use podnet_dns_records::wire::{
    self, FLAG_AA, FLAG_CD, Query, RCODE_NOERROR, RCODE_REFUSED, RCODE_SERVFAIL, Response,
    parse_query, write_rejection,
};
use podnet_dns_records::{Name, Outcome, Snapshot, answer};

use crate::cache::{Cache, Key};
use crate::forward::{Forwarder, Question};
use crate::metrics::{Metrics, Proto};

/// What the answer path works from: the cluster index and the server blocks.
#[derive(Clone)]
pub struct State {
    pub snapshot: Option<Arc<Snapshot>>,
    pub blocks: Arc<[Arc<Block>]>,
}

/// One server block as the answer path needs it.
pub struct Block {
    pub port: u16,
    pub zones: Vec<Name>,
    pub kubernetes: bool,
    pub forward: Option<Forwarder>,
    pub cache: Option<Cache>,
    pub log: bool,
    pub errors: bool,
    pub loadbalance: bool,
}

/// Work that waits for an upstream.
pub enum Slow {
    Forward(Arc<Block>),
    /// An ExternalName alias to a name outside the cluster: the CNAME, then the target's
    /// records resolved through `block`.
    Chase {
        block: Arc<Block>,
        target: Name,
        cname_rr: Box<[u8]>,
    },
    /// Refresh a cached entry before it expires; nobody waits for the answer.
    Prefetch(Arc<Block>),
}

pub enum Handled {
    /// The response is in the buffer.
    Reply,
    /// The response is in the buffer; after sending it, refresh the entry it came from.
    ReplyThenPrefetch(Arc<Block>),
    Drop,
    Slow(Slow),
}

pub struct Engine {
    pub metrics: Arc<Metrics>,
}

impl State {
    /// The block on `port` whose zone is the longest suffix of `name` (CoreDNS's server
    /// selection); `None` for the port means any.
    pub fn block_for(&self, name: &[u8], port: Option<u16>) -> Option<&Arc<Block>> {
        self.blocks
            .iter()
            .filter(|b| port.is_none_or(|p| p == b.port))
            .filter_map(|b| {
                b.zones
                    .iter()
                    .filter(|z| wire::is_under(name, z.wire()))
                    .map(|z| z.len())
                    .max()
                    .map(|l| (l, b))
            })
            .max_by_key(|(l, _)| *l)
            .map(|(_, b)| b)
    }
}

impl Engine {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Engine { metrics }
    }

    /// Answers `packet` into `out` when no upstream is needed.
    pub fn handle(
        &self,
        state: &State,
        packet: &[u8],
        proto: Proto,
        port: u16,
        out: &mut Vec<u8>,
        began: Instant,
    ) -> Handled {
        let q = match parse_query(packet) {
            Ok(q) => q,
            Err(reject) => {
                write_rejection(out, packet, reject);
                if out.is_empty() {
                    return Handled::Drop;
                }
                if let wire::Reject::Error { rcode, .. } = reject {
                    self.metrics.response(rcode, 0, began.elapsed());
                }
                return Handled::Reply;
            }
        };
        self.metrics.request(proto, q.qtype);
        let limit = limit(&q, proto);
        let name = q.qname.wire();
        let Some(block) = state.block_for(name, Some(port)) else {
            return self.refuse(&q, limit, out, began);
        };
        if block.kubernetes
            && let Some(snap) = &state.snapshot
        {
            match answer(snap, &q, limit, out) {
                Outcome::Answered { rcode, .. } => {
                    self.metrics.kubernetes_answers.fetch_add(1, Relaxed);
                    if block.loadbalance {
                        rotate_addresses(out, q.question_end);
                    }
                    self.done(block, &q, rcode as u16, began);
                    return Handled::Reply;
                }
                Outcome::Chase { target, cname_rr } => {
                    return Handled::Slow(Slow::Chase {
                        block: block.clone(),
                        target,
                        cname_rr,
                    });
                }
                Outcome::NotOurs => {}
            }
        }
        let Some(fwd) = &block.forward else {
            return self.refuse(&q, limit, out, began);
        };
        if !fwd.covers(name) {
            return self.refuse(&q, limit, out, began);
        }
        if let Some(cache) = block.cache.as_ref().filter(|c| c.covers(name)) {
            let key = Key::of(&q);
            if let Some((entry, prefetch)) = cache.get(&key, began) {
                let hits = if entry.denial {
                    &self.metrics.cache_hits_denial
                } else {
                    &self.metrics.cache_hits_success
                };
                hits.fetch_add(1, Relaxed);
                let (rcode, _) = entry.render(&q, began, limit, out);
                self.done(block, &q, rcode as u16, began);
                if prefetch {
                    self.metrics.cache_prefetch.fetch_add(1, Relaxed);
                    return Handled::ReplyThenPrefetch(block.clone());
                }
                return Handled::Reply;
            }
            self.metrics.cache_misses.fetch_add(1, Relaxed);
        }
        Handled::Slow(Slow::Forward(block.clone()))
    }

    /// Completes work that needs an upstream; the response (none for a prefetch) is left
    /// in `out`.
    pub async fn slow(
        &self,
        state: &State,
        job: Slow,
        packet: &[u8],
        proto: Proto,
        out: &mut Vec<u8>,
        began: Instant,
    ) {
        out.clear();
        let Ok(q) = parse_query(packet) else { return };
        let limit = limit(&q, proto);
        match job {
            Slow::Prefetch(block) => {
                if let Some(fwd) = &block.forward {
                    let cache = block.cache.as_ref();
                    fwd.resolve(
                        &Key::of(&q),
                        question(&q, q.qname.wire()),
                        cache,
                        &self.metrics,
                    )
                    .await;
                }
            }
            Slow::Forward(block) => {
                let Some(fwd) = &block.forward else {
                    self.refuse(&q, limit, out, began);
                    return;
                };
                let Ok(_permit) = fwd.permits.clone().try_acquire_owned() else {
                    self.refuse(&q, limit, out, began);
                    return;
                };
                let cache = block.cache.as_ref().filter(|c| c.covers(q.qname.wire()));
                match fwd
                    .resolve(
                        &Key::of(&q),
                        question(&q, q.qname.wire()),
                        cache,
                        &self.metrics,
                    )
                    .await
                {
                    Some(entry) => {
                        let (rcode, _) = entry.render(&q, Instant::now(), limit, out);
                        self.done(&block, &q, rcode as u16, began);
                    }
                    None => self.servfail(&block, &q, limit, out, began),
                }
            }
            Slow::Chase {
                block,
                target,
                cname_rr,
            } => {
                // The target's records, through whichever block forwards that name.
                let mut records = None;
                if let Some(up) = state.block_for(target.wire(), Some(block.port))
                    && let Some(fwd) = up.forward.as_ref().filter(|f| f.covers(target.wire()))
                {
                    let key = Key::of_parts(target.wire(), &q);
                    let cache = up.cache.as_ref();
                    records = match cache.and_then(|c| c.get(&key, Instant::now())) {
                        Some((e, _)) => Some(e),
                        None => {
                            fwd.resolve(&key, question(&q, target.wire()), cache, &self.metrics)
                                .await
                        }
                    };
                }
                let mut r = Response::begin(out, &q, FLAG_AA, RCODE_NOERROR);
                r.push(0, &cname_rr, 1);
                if let Some(e) = records {
                    let (rrs, n) = e.answers_expanded();
                    r.push(0, &rrs, n);
                    r.set_rcode(e.rcode);
                }
                let rcode = r.rcode();
                r.finish(limit);
                self.done(&block, &q, rcode as u16, began);
            }
        }
    }

    fn refuse(&self, q: &Query<'_>, limit: usize, out: &mut Vec<u8>, began: Instant) -> Handled {
        Response::begin(out, q, 0, RCODE_REFUSED).finish(limit);
        self.metrics
            .response(RCODE_REFUSED as u16, q.qtype, began.elapsed());
        Handled::Reply
    }

    fn servfail(
        &self,
        block: &Block,
        q: &Query<'_>,
        limit: usize,
        out: &mut Vec<u8>,
        began: Instant,
    ) {
        Response::begin(out, q, 0, RCODE_SERVFAIL).finish(limit);
        if block.errors {
            tracing::error!(name = %q.qname, qtype = wire::type_name(q.qtype), "no upstream answered: SERVFAIL");
        }
        self.done(block, q, RCODE_SERVFAIL as u16, began);
    }

    fn done(&self, block: &Block, q: &Query<'_>, rcode: u16, began: Instant) {
        let took = began.elapsed();
        self.metrics.response(rcode, q.qtype, took);
        if block.log {
            tracing::info!(
                name = %q.qname,
                qtype = wire::type_name(q.qtype),
                rcode = wire::rcode_name(rcode),
                micros = took.as_micros() as u64,
                "query"
            );
        }
    }
}

fn limit(q: &Query<'_>, proto: Proto) -> usize {
    match proto {
        Proto::Udp => q.udp_limit(),
        Proto::Tcp => 65535,
    }
}

fn question<'a>(q: &Query<'_>, name: &'a [u8]) -> Question<'a> {
    Question {
        name,
        qtype: q.qtype,
        qclass: q.qclass,
        dnssec_ok: q.edns.is_some_and(|e| e.dnssec_ok),
        checking_disabled: q.flags & FLAG_CD != 0,
    }
}

/// `loadbalance`: rotates a multi-record answer of addresses by one position per query, so
/// clients that take the first address spread over all of them.
fn rotate_addresses(out: &mut [u8], question_end: usize) {
    use std::sync::atomic::AtomicUsize;
    static TURN: AtomicUsize = AtomicUsize::new(0);
    let an = u16::from_be_bytes([out[6], out[7]]) as usize;
    if an < 2 {
        return;
    }
    // Prepared answers: owner pointer (2) + type, class, TTL, rdlength (10) + rdata.
    let mut spans = Vec::with_capacity(an);
    let mut at = question_end;
    for _ in 0..an {
        let Some(hdr) = out.get(at..at + 12) else {
            return;
        };
        let rtype = u16::from_be_bytes([hdr[2], hdr[3]]);
        if hdr[0] & 0xC0 != 0xC0 || !(rtype == wire::TYPE_A || rtype == wire::TYPE_AAAA) {
            return;
        }
        let end = at + 12 + u16::from_be_bytes([hdr[10], hdr[11]]) as usize;
        spans.push(at..end);
        at = end;
    }
    let k = TURN.fetch_add(1, Relaxed) % an;
    if k == 0 {
        return;
    }
    let start = spans[0].start;
    let split = spans[k].start;
    out[start..at].rotate_left(split - start);
}
