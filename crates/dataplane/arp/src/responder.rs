//! The responder: a dedicated thread that answers ARP requests for the addresses it is told
//! to, each until a deadline. The deadline is checked against the monotonic clock at the
//! moment a request is answered, so a holder whose lease could not be renewed falls silent
//! on time even if whatever should tell it so is late.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::packet::{Arp, Mac};
use crate::socket::ArpSocket;

/// How long the thread blocks in one receive before looking at its stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Answers ARP on one interface while it lives.
pub struct Responder {
    socket: Arc<ArpSocket>,
    table: Arc<Mutex<HashMap<Ipv4Addr, Instant>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

// === impl Responder ===

impl Responder {
    /// Opens the socket on `interface` (inside the namespace at `netns` when given, else in
    /// the caller's) and starts answering — nothing, until told what.
    pub fn start(interface: &str, netns: Option<&Path>) -> Result<Self> {
        let socket = match netns {
            Some(path) => podnet_netns::run_in(path, || ArpSocket::open(interface, POLL))??,
            None => ArpSocket::open(interface, POLL)?,
        };
        let socket = Arc::new(socket);
        let table = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("arp-responder".into())
            .spawn({
                let (socket, table, stop) = (socket.clone(), table.clone(), stop.clone());
                move || answer(&socket, &table, &stop)
            })
            .map_err(|source| crate::Error::Socket {
                interface: interface.to_owned(),
                op: "spawn",
                source,
            })?;
        tracing::info!(interface, mac = %socket.mac(), "arp responder started");
        Ok(Responder {
            socket,
            table,
            stop,
            thread: Some(thread),
        })
    }

    pub fn mac(&self) -> Mac {
        self.socket.mac()
    }

    pub fn interface(&self) -> &str {
        self.socket.interface()
    }

    /// Answer for `ip` until `until` (None: stop now).
    pub fn answer_until(&self, ip: Ipv4Addr, until: Option<Instant>) {
        let mut table = self.table.lock().expect("arp table");
        match until {
            Some(until) => table.insert(ip, until),
            None => table.remove(&ip),
        };
    }

    /// The addresses answered for at `now`.
    pub fn answering(&self, now: Instant) -> Vec<Ipv4Addr> {
        let table = self.table.lock().expect("arp table");
        let mut ips: Vec<_> = table
            .iter()
            .filter(|(_, until)| now < **until)
            .map(|(ip, _)| *ip)
            .collect();
        ips.sort();
        ips
    }

    /// Tells the segment that `ip` is here now (after a takeover: neighbours' caches point
    /// at the previous holder). Sent only while answering for it.
    pub fn announce(&self, ip: Ipv4Addr) -> std::io::Result<bool> {
        if !self.answering(Instant::now()).contains(&ip) {
            return Ok(false);
        }
        self.socket
            .send(&Arp::announcement(ip, self.mac()).to_frame())?;
        Ok(true)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn answer(socket: &ArpSocket, table: &Mutex<HashMap<Ipv4Addr, Instant>>, stop: &AtomicBool) {
    let mut buf = [0u8; 1514];
    while !stop.load(Ordering::Relaxed) {
        let received = match socket.recv(&mut buf) {
            Ok(Some(r)) if !r.outgoing => r,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(interface = socket.interface(), %error, "arp receive failed");
                std::thread::sleep(POLL);
                continue;
            }
        };
        let Some(request) = Arp::parse(&buf[..received.len]) else {
            continue;
        };
        if !request.is_request_for_other() {
            continue;
        }
        let until = table
            .lock()
            .expect("arp table")
            .get(&request.target_ip)
            .copied();
        // The deadline is the fence: checked now, at the moment of answering.
        if until.is_none_or(|until| Instant::now() >= until) {
            continue;
        }
        let reply = request.reply_from(socket.mac());
        match socket.send(&reply.to_frame()) {
            Ok(()) => tracing::debug!(ip = %request.target_ip, asker = %request.sender_ip,
                "arp answered"),
            Err(error) => tracing::warn!(ip = %request.target_ip, %error, "arp reply failed"),
        }
    }
}
