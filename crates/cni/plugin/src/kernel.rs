//! The plugin's kernel work: one current-thread runtime per invocation, netlink errors as
//! the spec's error codes, and the host sysctls.

use std::io;

use podnet_cni_spec::{CniError, ErrorCode};

/// The runtime that drives the netlink sockets of one invocation.
pub fn runtime() -> Result<tokio::runtime::Runtime, CniError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| {
            CniError::new(
                ErrorCode::KERNEL,
                format!("starting the netlink runtime: {e}"),
            )
        })
}

/// A netlink failure: "busy" is worth retrying (11), anything else is the kernel's (100).
pub fn netlink_error(e: podnet_netlink::Error) -> CniError {
    let code = if e.is_busy() {
        ErrorCode::TRY_AGAIN_LATER
    } else {
        ErrorCode::KERNEL
    };
    CniError::new(code, e.to_string())
}

pub fn nft_error(e: podnet_nft::Error) -> CniError {
    CniError::new(ErrorCode::KERNEL, format!("ipMasq: {e}"))
}

/// Turns on IPv4 or IPv6 forwarding in the plugin's (the node's) namespace, writing only
/// when it is off.
pub fn enable_forwarding(v6: bool) -> Result<(), CniError> {
    let path = if v6 {
        "/proc/sys/net/ipv6/conf/all/forwarding"
    } else {
        "/proc/sys/net/ipv4/ip_forward"
    };
    let write = || -> io::Result<()> {
        if std::fs::read_to_string(path)?.trim() != "1" {
            std::fs::write(path, "1")?;
        }
        Ok(())
    };
    write().map_err(|e| {
        CniError::new(
            ErrorCode::KERNEL,
            format!("enabling forwarding in {path}: {e}"),
        )
    })
}
