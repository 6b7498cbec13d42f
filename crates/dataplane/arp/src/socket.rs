//! The AF_PACKET socket: ARP frames of one interface in and out. Opened inside the
//! interface's namespace (a packet socket stays bound to the namespace it was made in).

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::packet::{ETH_P_ARP, FRAME_LEN, Mac};

/// A raw ARP socket bound to one interface.
#[derive(Debug)]
pub struct ArpSocket {
    fd: OwnedFd,
    ifindex: i32,
    mac: Mac,
    interface: String,
}

/// A frame received, and whether the kernel saw it leave rather than arrive.
pub struct Received {
    pub len: usize,
    pub outgoing: bool,
}

// === impl ArpSocket ===

impl ArpSocket {
    /// Opens the socket on `interface` in the calling thread's namespace; `poll` bounds
    /// each [`ArpSocket::recv`] so that a reader thread can notice it should stop.
    pub fn open(interface: &str, poll: Duration) -> Result<Self> {
        let err = |op: &'static str| {
            let source = io::Error::last_os_error();
            Error::Socket {
                interface: interface.to_owned(),
                op,
                source,
            }
        };
        let name = CString::new(interface).map_err(|_| Error::BadInterface {
            interface: interface.to_owned(),
        })?;
        // SAFETY: a plain system call; the fd is owned right after.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ARP.to_be()),
            )
        };
        if raw < 0 {
            return Err(err("socket"));
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `name` is a NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(err("if_nametoindex"));
        }
        let mac = hardware_address(&fd, &name).map_err(|source| Error::Socket {
            interface: interface.to_owned(),
            op: "SIOCGIFHWADDR",
            source,
        })?;
        let addr = link_addr(ifindex, [0; 6]);
        // SAFETY: `addr` is a valid sockaddr_ll of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc < 0 {
            return Err(err("bind"));
        }
        let tv = libc::timeval {
            tv_sec: poll.as_secs() as libc::time_t,
            tv_usec: poll.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: `tv` is a valid timeval of the size given.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&raw const tv).cast(),
                size_of::<libc::timeval>() as u32,
            )
        };
        if rc < 0 {
            return Err(err("setsockopt SO_RCVTIMEO"));
        }
        Ok(ArpSocket {
            fd,
            ifindex,
            mac,
            interface: interface.to_owned(),
        })
    }

    pub fn mac(&self) -> Mac {
        self.mac
    }

    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Waits up to the poll interval for one frame; `Ok(None)` when none came.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        // SAFETY: zeroed sockaddr_ll is a valid value; the kernel fills it.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut from_len = size_of::<libc::sockaddr_ll>() as u32;
        // SAFETY: `buf` and `from` are valid for the lengths given.
        let n = unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                0,
                (&raw mut from).cast(),
                &mut from_len,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(Received {
            len: n as usize,
            outgoing: from.sll_pkttype == libc::PACKET_OUTGOING,
        }))
    }

    /// Sends one frame (its destination MAC is in it).
    pub fn send(&self, frame: &[u8; FRAME_LEN]) -> io::Result<()> {
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[0..6]);
        let addr = link_addr(self.ifindex, dst);
        // SAFETY: `frame` and `addr` are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn link_addr(ifindex: i32, dst: [u8; 6]) -> libc::sockaddr_ll {
    let mut addr = [0u8; 8];
    addr[..6].copy_from_slice(&dst);
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: ETH_P_ARP.to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr: addr,
    }
}

fn hardware_address(fd: &OwnedFd, name: &CString) -> io::Result<Mac> {
    // SAFETY: zeroed ifreq is valid; the name fits (checked below).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let bytes = name.as_bytes_with_nul();
    if bytes.len() > req.ifr_name.len() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR fills `req.ifr_ifru.ifru_hwaddr`.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds a sockaddr.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(data.iter()) {
        *d = *s as u8;
    }
    Ok(Mac(mac))
}

/// The interface that holds `ip`, in the calling thread's namespace (a node's InternalIP
/// names the interface its LoadBalancer addresses are announced on).
pub fn interface_holding(ip: Ipv4Addr) -> Result<Option<String>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list freed below.
    if unsafe { libc::getifaddrs(&mut head) } < 0 {
        return Err(Error::Socket {
            interface: String::new(),
            op: "getifaddrs",
            source: io::Error::last_os_error(),
        });
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let entry = unsafe { &*cur };
        cur = entry.ifa_next;
        if entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null; sa_family says its type.
        let family = unsafe { (*entry.ifa_addr).sa_family };
        if i32::from(family) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*entry.ifa_addr.cast::<libc::sockaddr_in>() };
        if Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)) == ip {
            // SAFETY: ifa_name is a NUL-terminated string while the list lives.
            let name = unsafe { std::ffi::CStr::from_ptr(entry.ifa_name) };
            found = Some(name.to_string_lossy().into_owned());
            break;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

/// [`interface_holding`] inside the namespace at `netns` (None: the caller's).
pub fn interface_holding_in(
    netns: Option<&std::path::Path>,
    ip: Ipv4Addr,
) -> Result<Option<String>> {
    match netns {
        Some(path) => podnet_netns::run_in(path, || interface_holding(ip))?,
        None => interface_holding(ip),
    }
}
