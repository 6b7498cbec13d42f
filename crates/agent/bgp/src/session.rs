//! One BGP session over a connected stream (RFC 4271 §8): OpenSent → OpenConfirm →
//! Established, then UPDATE diffs, keepalives and the hold timer until shutdown or failure.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};

use crate::error::{Error, Result};
use crate::speaker::Settings;
use crate::wire::{self, HEADER_LEN, Header, Message, Notification, Open, Path};

/// How long to wait for the peer's OPEN, and for its KEEPALIVE when the hold time is 0
/// (RFC 4271 §8 suggests a large value, 4 minutes; the peers here answer at once).
const OPEN_WAIT: Duration = Duration::from_secs(30);

/// How a session that did not fail ended.
pub(crate) enum Ended {
    Shutdown,
}

pub(crate) struct Session {
    writer: OwnedWriteHalf,
    messages: mpsc::Receiver<Result<Message>>,
    _reader: AbortOnDrop,
    local: std::io::Result<SocketAddr>,
    peer: SocketAddr,
    settings: Settings,
}

/// The reading task ends with its session.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// === impl Session ===

impl Session {
    pub(crate) fn new(stream: TcpStream, settings: &Settings, peer: SocketAddr) -> Self {
        let local = stream.local_addr();
        let (read, writer) = stream.into_split();
        let (tx, messages) = mpsc::channel(16);
        // Reading runs apart so that a message half-read is never dropped by a select.
        let reader = AbortOnDrop(tokio::spawn(read_messages(read, peer, tx)));
        Session {
            writer,
            messages,
            _reader: reader,
            local,
            peer,
            settings: settings.clone(),
        }
    }

    pub(crate) async fn run(
        mut self,
        prefixes: &mut watch::Receiver<BTreeSet<Ipv4Net>>,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Ended> {
        let peer = self.peer;
        let local = match &self.local {
            Ok(SocketAddr::V4(v4)) => *v4.ip(),
            Ok(other) => {
                let what = format!("local address {other} is not IPv4");
                return Err(Error::Io {
                    peer,
                    source: std::io::Error::other(what),
                });
            }
            Err(e) => {
                return Err(Error::Io {
                    peer,
                    source: std::io::Error::new(e.kind(), e.to_string()),
                });
            }
        };
        let established = tokio::select! {
            () = &mut *shutdown => None,
            r = self.establish(local) => Some(r?),
        };
        let Some(path) = established else {
            self.cease().await;
            return Ok(Ended::Shutdown);
        };
        tracing::info!(%peer, peer_asn = path.peer_asn, hold_secs = self.settings.hold_time,
            "bgp session established");
        self.established(path, prefixes, shutdown).await
    }

    /// OPEN both ways, then the peer's KEEPALIVE: the session's path attributes (next hop
    /// and router ID are this end's address) and hold time.
    async fn establish(&mut self, local: Ipv4Addr) -> Result<Path> {
        let ours = Open {
            asn: self.settings.local_asn,
            hold_time: self.settings.hold_time,
            router_id: local,
            four_octet_as: true,
        };
        self.send(&ours.encode()).await?;
        let theirs = match self.receive(Instant::now() + OPEN_WAIT).await? {
            Message::Open(open) => open,
            other => return Err(self.fsm_error(&other).await),
        };
        if theirs.asn != self.settings.peer.asn {
            let what = format!(
                "its AS is {}, expected {}",
                theirs.asn, self.settings.peer.asn
            );
            return Err(self.refuse(what, Notification::BAD_PEER_AS).await);
        }
        if theirs.router_id == local {
            let what = format!("its BGP identifier {local} is ours");
            return Err(self.refuse(what, Notification::BAD_BGP_IDENTIFIER).await);
        }
        self.settings.hold_time = self.settings.hold_time.min(theirs.hold_time);
        self.send(&wire::keepalive()).await?;
        let wait = match self.settings.hold_time {
            0 => OPEN_WAIT,
            secs => Duration::from_secs(secs.into()),
        };
        match self.receive(Instant::now() + wait).await? {
            Message::Keepalive => {}
            other => return Err(self.fsm_error(&other).await),
        }
        Ok(Path {
            local_asn: self.settings.local_asn,
            peer_asn: theirs.asn,
            next_hop: local,
            four_octet_as: theirs.four_octet_as,
        })
    }

    async fn established(
        mut self,
        path: Path,
        prefixes: &mut watch::Receiver<BTreeSet<Ipv4Net>>,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> Result<Ended> {
        let hold = self.settings.hold_time;
        let hold_time = (hold > 0).then(|| Duration::from_secs(hold.into()));
        let mut hold_deadline = hold_time.map(|h| Instant::now() + h);
        let mut keepalives = hold_time.map(|h| tokio::time::interval(h / 3));
        let mut advertised = BTreeSet::new();
        let want = prefixes.borrow_and_update().clone();
        self.advertise(&path, &mut advertised, want).await?;
        loop {
            let keepalive = async {
                match keepalives.as_mut() {
                    Some(k) => {
                        k.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let expiry = async {
                match hold_deadline {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut *shutdown => {
                    self.cease().await;
                    return Ok(Ended::Shutdown);
                }
                changed = prefixes.changed() => {
                    if changed.is_err() {
                        // Nobody tells the speaker what to announce any more: it is ending.
                        self.cease().await;
                        return Ok(Ended::Shutdown);
                    }
                    let want = prefixes.borrow_and_update().clone();
                    self.advertise(&path, &mut advertised, want).await?;
                }
                () = keepalive => self.send(&wire::keepalive()).await?,
                () = expiry => {
                    let _ = self.writer.write_all(&Notification::HOLD_TIMER_EXPIRED.encode()).await;
                    return Err(Error::HoldTimerExpired { peer: self.peer, secs: hold });
                }
                message = self.messages.recv() => {
                    let message = match message.unwrap_or(Err(Error::Closed { peer: self.peer })) {
                        Ok(message) => message,
                        Err(error) => return Err(self.answer(error).await),
                    };
                    hold_deadline = hold_time.map(|h| Instant::now() + h);
                    match message {
                        Message::Keepalive | Message::Update | Message::RouteRefresh => {}
                        Message::Notification(notification) => {
                            return Err(Error::PeerNotification { peer: self.peer, notification });
                        }
                        Message::Open(_) => return Err(self.fsm_error(&message).await),
                    }
                }
            }
        }
    }

    /// Sends what turns `advertised` into `want`.
    async fn advertise(
        &mut self,
        path: &Path,
        advertised: &mut BTreeSet<Ipv4Net>,
        want: BTreeSet<Ipv4Net>,
    ) -> Result<()> {
        let withdraw: Vec<Ipv4Net> = advertised.difference(&want).copied().collect();
        let announce: Vec<Ipv4Net> = want.difference(advertised).copied().collect();
        if withdraw.is_empty() && announce.is_empty() {
            return Ok(());
        }
        for message in wire::updates(&announce, &withdraw, path) {
            self.send(&message).await?;
        }
        tracing::info!(peer = %self.peer, announced = ?announce, withdrawn = ?withdraw,
            total = want.len(), "bgp routes updated");
        *advertised = want;
        Ok(())
    }

    async fn receive(&mut self, deadline: Instant) -> Result<Message> {
        tokio::select! {
            m = self.messages.recv() => {
                let message = match m.unwrap_or(Err(Error::Closed { peer: self.peer })) {
                    Ok(message) => message,
                    Err(error) => return Err(self.answer(error).await),
                };
                if let Message::Notification(notification) = message {
                    return Err(Error::PeerNotification { peer: self.peer, notification });
                }
                Ok(message)
            }
            () = sleep_until(deadline) => {
                let _ = self.writer.write_all(&Notification::HOLD_TIMER_EXPIRED.encode()).await;
                Err(Error::HoldTimerExpired { peer: self.peer, secs: self.settings.hold_time })
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .await
            .map_err(|source| Error::Io {
                peer: self.peer,
                source,
            })
    }

    /// A malformed message is answered with the NOTIFICATION it calls for (RFC 4271 §6).
    async fn answer(&mut self, error: Error) -> Error {
        if let Error::Malformed { notification, .. } = &error {
            let _ = self.writer.write_all(&notification.encode()).await;
        }
        error
    }

    async fn fsm_error(&mut self, got: &Message) -> Error {
        let what = format!("unexpected {got:?} in this state");
        self.refuse(what, Notification::FSM_ERROR).await
    }

    async fn refuse(&mut self, what: String, notification: Notification) -> Error {
        let _ = self.writer.write_all(&notification.encode()).await;
        Error::Refused {
            peer: self.peer,
            what,
            notification,
        }
    }

    /// Cease, Administrative Shutdown, then the connection closed: the peer withdraws
    /// everything this session announced at once.
    async fn cease(&mut self) {
        let notification = Notification::ADMINISTRATIVE_SHUTDOWN;
        let sent = self.writer.write_all(&notification.encode()).await;
        let _ = self.writer.shutdown().await;
        tracing::info!(peer = %self.peer, sent = sent.is_ok(), "bgp session closed (Cease)");
    }
}

/// Reads messages into `tx` until the connection ends or a message is malformed (then the
/// NOTIFICATION it calls for is the session's to send: the error carries it).
async fn read_messages(
    mut read: OwnedReadHalf,
    peer: SocketAddr,
    tx: mpsc::Sender<Result<Message>>,
) {
    loop {
        let message = read_one(&mut read, peer).await;
        let failed = message.is_err();
        if tx.send(message).await.is_err() || failed {
            return;
        }
    }
}

async fn read_one(read: &mut OwnedReadHalf, peer: SocketAddr) -> Result<Message> {
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::UnexpectedEof => Error::Closed { peer },
        _ => Error::Io { peer, source },
    };
    let mut head = [0u8; HEADER_LEN];
    read.read_exact(&mut head).await.map_err(io)?;
    let malformed = |m: wire::Malformed| Error::Malformed {
        peer,
        reason: m.reason,
        notification: m.notification,
    };
    let header = Header::decode(&head).map_err(malformed)?;
    let mut body = vec![0u8; header.body_len];
    read.read_exact(&mut body).await.map_err(io)?;
    wire::decode(header, &body).map_err(malformed)
}
