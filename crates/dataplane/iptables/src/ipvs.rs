//! Whether the kernel has IPVS, which the ipvs proxy mode cannot do without.
//!
//! Two independent signs, either of which means "present": the generic-netlink family `IPVS`
//! (what ipvsadm and kube-proxy's ipvs mode talk to) and `/proc/net/ip_vs`. Both come with
//! the `ip_vs` module (CONFIG_IP_VS); a kernel built without it, like this machine's, has
//! neither, and modules cannot be loaded here, so there is no point trying `modprobe`.

use std::path::Path;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto,
    setsockopt, socket, sockopt,
};
use nix::sys::time::TimeVal;

use crate::{Error, Result};

/// The generic-netlink family IPVS registers.
const IPVS_FAMILY: &str = "IPVS";
/// Where an IPVS kernel lists its virtual servers.
const PROC_IP_VS: &str = "/proc/net/ip_vs";

// Generic netlink's controller (linux/genetlink.h).
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLMSG_ERROR: u16 = 0x2;

/// What the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpvsSupport {
    Present,
    /// Absent; the string says what was looked at.
    Missing(String),
}

/// Fails with [`Error::IpvsMissing`] (naming CONFIG_IP_VS and the `ip_vs` module) unless the
/// kernel has IPVS, as seen from `netns` (`None`: the caller's own). The agent calls this
/// before it starts in ipvs mode.
pub fn probe_ipvs(netns: Option<&Path>) -> Result<()> {
    let support = match netns {
        None => ipvs_support()?,
        Some(path) => podnet_netns::run_in(path, ipvs_support)??,
    };
    match support {
        IpvsSupport::Present => Ok(()),
        IpvsSupport::Missing(evidence) => Err(Error::IpvsMissing { evidence }),
    }
}

/// Looks for IPVS without failing when it is absent.
pub fn ipvs_support() -> Result<IpvsSupport> {
    let family = genl_family_exists(IPVS_FAMILY).map_err(Error::IpvsProbe)?;
    let proc = Path::new(PROC_IP_VS).exists();
    tracing::debug!(
        genl_family = family,
        proc_ip_vs = proc,
        "probed the kernel for IPVS"
    );
    if family || proc {
        return Ok(IpvsSupport::Present);
    }
    Ok(IpvsSupport::Missing(format!(
        "no generic netlink family {IPVS_FAMILY:?} and no {PROC_IP_VS}"
    )))
}

/// Asks generic netlink's controller for family `name` (CTRL_CMD_GETFAMILY): a reply of the
/// controller's type means it exists, an ENOENT error that it does not.
fn genl_family_exists(name: &str) -> std::io::Result<bool> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkGeneric,
    )?;
    setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::new(2, 0))?;
    sendto(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &getfamily_request(name),
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut buf = [0u8; 8192];
    let n = recv(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &mut buf,
        MsgFlags::empty(),
    )?;
    parse_reply(&buf[..n])
}

/// nlmsghdr + genlmsghdr + one attribute, CTRL_ATTR_FAMILY_NAME = `name` (NUL-terminated).
fn getfamily_request(name: &str) -> Vec<u8> {
    let attr_len = 4 + name.len() + 1;
    let attr_padded = attr_len.div_ceil(4) * 4;
    let total = 16 + 4 + attr_padded;
    let mut msg = Vec::with_capacity(total);
    msg.extend_from_slice(&(total as u32).to_ne_bytes());
    msg.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes());
    msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    msg.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel assigns ours
    msg.extend_from_slice(&[CTRL_CMD_GETFAMILY, 1, 0, 0]);
    msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    msg.extend_from_slice(&CTRL_ATTR_FAMILY_NAME.to_ne_bytes());
    msg.extend_from_slice(name.as_bytes());
    msg.resize(total, 0);
    msg
}

fn parse_reply(reply: &[u8]) -> std::io::Result<bool> {
    let short = || std::io::Error::new(std::io::ErrorKind::InvalidData, "short netlink reply");
    let kind = u16::from_ne_bytes(
        reply
            .get(4..6)
            .ok_or_else(short)?
            .try_into()
            .unwrap_or_default(),
    );
    match kind {
        GENL_ID_CTRL => Ok(true),
        NLMSG_ERROR => {
            let errno = i32::from_ne_bytes(
                reply
                    .get(16..20)
                    .ok_or_else(short)?
                    .try_into()
                    .unwrap_or_default(),
            );
            match -errno {
                libc_enoent if libc_enoent == nix::errno::Errno::ENOENT as i32 => Ok(false),
                other => Err(std::io::Error::from_raw_os_error(other)),
            }
        }
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected netlink message type {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_padded_getfamily_message() {
        let msg = getfamily_request("IPVS");
        assert_eq!(msg.len(), 32);
        assert_eq!(u32::from_ne_bytes(msg[0..4].try_into().unwrap()), 32);
        assert_eq!(msg[16], CTRL_CMD_GETFAMILY);
        assert_eq!(u16::from_ne_bytes(msg[20..22].try_into().unwrap()), 9);
        assert_eq!(&msg[24..29], b"IPVS\0");
    }

    #[test]
    fn the_controller_s_answer_says_present_and_enoent_says_absent() {
        let mut answer = vec![0u8; 20];
        answer[4..6].copy_from_slice(&GENL_ID_CTRL.to_ne_bytes());
        assert!(parse_reply(&answer).unwrap());
        let mut enoent = vec![0u8; 36];
        enoent[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        enoent[16..20].copy_from_slice(&(-2i32).to_ne_bytes());
        assert!(!parse_reply(&enoent).unwrap());
        enoent[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(parse_reply(&enoent).is_err());
    }
}
