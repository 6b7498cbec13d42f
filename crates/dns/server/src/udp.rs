//! The UDP path: one OS thread per socket (SO_REUSEPORT spreads clients over them), reading
//! and answering in batches with recvmmsg/sendmmsg — one system call each way for up to
//! [`BATCH`] queries, as Knot and NSD do. Only queries that need an upstream leave the
//! thread, as tasks on the async runtime.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::Handled;
use crate::metrics::Proto;
use crate::server::Shared;

pub const BATCH: usize = 32;
/// Queries larger than this are cut (and then fail to parse): no legitimate query is.
const RECV_SIZE: usize = 4096;

/// Runs until `stop` is set (checked at least every 200 ms).
pub fn serve(
    sock: UdpSocket,
    port: u16,
    shared: Arc<Shared>,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) {
    if let Err(error) = sock.set_read_timeout(Some(Duration::from_millis(200))) {
        tracing::error!(%error, "udp socket: cannot set a read timeout");
        return;
    }
    let reply_sock = match sock.try_clone() {
        Ok(s) => Arc::new(s),
        Err(error) => {
            tracing::error!(%error, "udp socket: cannot clone");
            return;
        }
    };
    let fd = sock.as_raw_fd();
    let mut rbuf = vec![0u8; BATCH * RECV_SIZE];
    // SAFETY: plain C structs for which all-zero is a valid value.
    let mut addrs: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
    let mut riov: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut rhdr: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    let mut siov: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut shdr: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    let mut outs: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(1500)).collect();
    let mut reader = shared.state.reader();
    while !stop.load(Ordering::Relaxed) {
        for i in 0..BATCH {
            riov[i] = libc::iovec {
                iov_base: rbuf[i * RECV_SIZE..].as_mut_ptr().cast(),
                iov_len: RECV_SIZE,
            };
            rhdr[i].msg_hdr.msg_name = (&raw mut addrs[i]).cast();
            rhdr[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            rhdr[i].msg_hdr.msg_iov = &raw mut riov[i];
            rhdr[i].msg_hdr.msg_iovlen = 1;
            rhdr[i].msg_hdr.msg_flags = 0;
        }
        // SAFETY: every header points at live buffers of the stated sizes.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                rhdr.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) {
                tracing::warn!(error = %e, "udp receive failed");
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        let state = reader.get(&shared.state).clone();
        let now = Instant::now();
        let mut m = 0;
        for i in 0..n as usize {
            let len = (rhdr[i].msg_len as usize).min(RECV_SIZE);
            let packet = &rbuf[i * RECV_SIZE..i * RECV_SIZE + len];
            let out = &mut outs[i];
            let reply = match shared
                .engine
                .handle(&state, packet, Proto::Udp, port, out, now)
            {
                Handled::Reply => true,
                Handled::Drop => false,
                Handled::ReplyThenPrefetch(block) => {
                    spawn_slow(
                        &shared,
                        &rt,
                        &state,
                        crate::engine::Slow::Prefetch(block),
                        packet,
                        None,
                        &reply_sock,
                        now,
                    );
                    true
                }
                Handled::Slow(job) => {
                    let peer = sockaddr_to(&addrs[i]);
                    if peer.is_some() {
                        spawn_slow(&shared, &rt, &state, job, packet, peer, &reply_sock, now);
                    }
                    false
                }
            };
            if reply {
                siov[m] = libc::iovec {
                    iov_base: out.as_mut_ptr().cast(),
                    iov_len: out.len(),
                };
                shdr[m].msg_hdr.msg_name = (&raw mut addrs[i]).cast();
                shdr[m].msg_hdr.msg_namelen = rhdr[i].msg_hdr.msg_namelen;
                shdr[m].msg_hdr.msg_iov = &raw mut siov[m];
                shdr[m].msg_hdr.msg_iovlen = 1;
                m += 1;
            }
        }
        let mut sent = 0;
        while sent < m {
            // SAFETY: the first `m` headers point at live replies and addresses.
            let r = unsafe { libc::sendmmsg(fd, shdr[sent..].as_mut_ptr(), (m - sent) as u32, 0) };
            if r <= 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // One bad destination must not hold back the rest of the batch.
                tracing::debug!(error = %e, "udp send failed");
                sent += 1;
                continue;
            }
            sent += r as usize;
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_slow(
    shared: &Arc<Shared>,
    rt: &tokio::runtime::Handle,
    state: &Arc<crate::engine::State>,
    job: crate::engine::Slow,
    packet: &[u8],
    peer: Option<SocketAddr>,
    reply_sock: &Arc<UdpSocket>,
    began: Instant,
) {
    let shared = shared.clone();
    let state = state.clone();
    let packet = packet.to_vec();
    let sock = reply_sock.clone();
    rt.spawn(async move {
        let mut out = Vec::new();
        shared
            .engine
            .slow(&state, job, &packet, Proto::Udp, &mut out, began)
            .await;
        if let Some(peer) = peer
            && !out.is_empty()
        {
            let _ = sock.send_to(&out, peer);
        }
    });
}

fn sockaddr_to(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match s.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a.sin6_addr.s6_addr),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
