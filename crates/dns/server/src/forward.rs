//! Forwarding to upstream resolvers (CoreDNS's `forward`): UDP first, TCP when the answer is
//! truncated (or always, with `force_tcp`), upstreams tried in the configured policy's order,
//! identical questions in flight coalesced into one upstream query.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use podnet_dns_records::Name;
use podnet_dns_records::wire::{self, EDNS_PAYLOAD, FLAG_CD, FLAG_QR, FLAG_RD, TYPE_OPT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::timeout;

use crate::cache::{Cache, Entry, Key};
use crate::corefile::{Forward, Policy};
use crate::metrics::Metrics;

/// The question to ask upstream (lower-cased name, type, class, DO and CD).
#[derive(Clone, Copy)]
pub struct Question<'a> {
    pub name: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

type Waiters = Vec<oneshot::Sender<Option<Arc<Entry>>>>;

pub struct Forwarder {
    pub conf: Forward,
    next: AtomicUsize,
    inflight: Mutex<HashMap<Box<[u8]>, Waiters>>,
    /// `max_concurrent`: queries beyond it are refused rather than queued.
    pub permits: Arc<Semaphore>,
}

impl Forwarder {
    pub fn new(conf: Forward) -> Self {
        let permits = Arc::new(Semaphore::new(conf.max_concurrent));
        Forwarder {
            conf,
            next: AtomicUsize::new(0),
            inflight: Mutex::new(HashMap::new()),
            permits,
        }
    }

    /// Whether names like this one are forwarded (under FROM, not under an `except` zone).
    pub fn covers(&self, name: &[u8]) -> bool {
        wire::is_under(name, self.conf.from.wire())
            && !self
                .conf
                .except
                .iter()
                .any(|z| wire::is_under(name, z.wire()))
    }

    /// The upstream's answer to `q` (from one upstream query however many ask at once),
    /// stored in `cache` when cacheable. `None` when no upstream answered.
    pub async fn resolve(
        &self,
        key: &Key,
        q: Question<'_>,
        cache: Option<&Cache>,
        metrics: &Metrics,
    ) -> Option<Arc<Entry>> {
        let rx = {
            let mut inflight = self.inflight.lock().unwrap();
            match inflight.get_mut(key.bytes()) {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    Some(rx)
                }
                None => {
                    inflight.insert(key.bytes().into(), Vec::new());
                    None
                }
            }
        };
        if let Some(rx) = rx {
            return rx.await.ok().flatten();
        }
        let entry = self.ask_upstreams(q, cache, metrics).await.map(Arc::new);
        if let (Some(cache), Some(e)) = (cache, &entry)
            && cache.insert(key, e.clone())
        {
            metrics.cache_evictions.fetch_add(1, Relaxed);
        }
        let waiters = self
            .inflight
            .lock()
            .unwrap()
            .remove(key.bytes())
            .unwrap_or_default();
        for w in waiters {
            let _ = w.send(entry.clone());
        }
        entry
    }

    async fn ask_upstreams(
        &self,
        q: Question<'_>,
        cache: Option<&Cache>,
        metrics: &Metrics,
    ) -> Option<Entry> {
        let n = self.conf.to.len();
        let start = match self.conf.policy {
            Policy::Sequential => 0,
            Policy::RoundRobin => self.next.fetch_add(1, Relaxed),
            Policy::Random => rand::random::<u32>() as usize,
        };
        let id: u16 = rand::random();
        let query = build_query(id, q);
        for i in 0..n {
            let to = self.conf.to[(start + i) % n];
            let began = Instant::now();
            match self.exchange(to, &query, id, q).await {
                Ok(reply) => {
                    let rcode = (reply[3] & 0x0F) as u16;
                    metrics.forward(to, rcode, began.elapsed());
                    match Entry::from_upstream(&reply, Instant::now(), cache.map(Cache::classes)) {
                        Some(e) => return Some(e),
                        None => tracing::warn!(upstream = %to, "malformed answer from upstream"),
                    }
                }
                Err(error) => {
                    metrics.forward(to, wire::RCODE_SERVFAIL as u16, began.elapsed());
                    tracing::warn!(upstream = %to, %error, name = %Name::from_wire(q.name), "upstream failed");
                }
            }
        }
        None
    }

    async fn exchange(
        &self,
        to: SocketAddr,
        query: &[u8],
        id: u16,
        q: Question<'_>,
    ) -> io::Result<Vec<u8>> {
        if !self.conf.force_tcp {
            let reply = timeout(self.conf.timeout, udp_exchange(to, query, id, q))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer over UDP"))??;
            if reply[2] & 0x02 == 0 {
                return Ok(reply);
            }
        }
        timeout(self.conf.timeout, tcp_exchange(to, query, id, q))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer over TCP"))?
    }
}

fn build_query(id: u16, q: Question<'_>) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + q.name.len() + 15);
    m.extend_from_slice(&id.to_be_bytes());
    let flags = FLAG_RD | if q.checking_disabled { FLAG_CD } else { 0 };
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    m.extend_from_slice(q.name);
    m.extend_from_slice(&q.qtype.to_be_bytes());
    m.extend_from_slice(&q.qclass.to_be_bytes());
    m.push(0);
    m.extend_from_slice(&TYPE_OPT.to_be_bytes());
    m.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    m.extend_from_slice(&[0, 0, if q.dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    m
}

/// Whether `reply` answers our query: same ID, a response, the same question.
fn matches(reply: &[u8], id: u16, q: Question<'_>) -> bool {
    if reply.len() < 12
        || reply[..2] != id.to_be_bytes()
        || u16::from_be_bytes([reply[2], reply[3]]) & FLAG_QR == 0
    {
        return false;
    }
    let Some((name, at)) = wire::read_name(reply, 12) else {
        return false;
    };
    name.wire() == q.name
        && reply.get(at..at + 4)
            == Some(&[q.qtype.to_be_bytes(), q.qclass.to_be_bytes()].concat()[..])
}

async fn udp_exchange(
    to: SocketAddr,
    query: &[u8],
    id: u16,
    q: Question<'_>,
) -> io::Result<Vec<u8>> {
    let local: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let sock = UdpSocket::bind((local, 0)).await?;
    sock.connect(to).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        // Anything that is not the answer (spoofed, late) is ignored; the timeout ends the wait.
        if matches(&buf[..n], id, q) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp_exchange(
    to: SocketAddr,
    query: &[u8],
    id: u16,
    q: Question<'_>,
) -> io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(to).await?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).await?;
    let len = s.read_u16().await? as usize;
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).await?;
    if !matches(&buf, id, q) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer does not match the question",
        ));
    }
    Ok(buf)
}
