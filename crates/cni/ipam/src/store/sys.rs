//! The two system calls std does not offer, and a small-file read that skips std's `statx`.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `flock(LOCK_EX)`, retried when a signal interrupts the wait.
pub(super) fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor `file` owns; no memory is touched.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Atomically puts `from` in place of `to`. When `to` exists the two are exchanged
/// (`renameat2(RENAME_EXCHANGE)`) and the old content, now at `from`, is unlinked: a plain
/// rename over an existing file makes ext4 (auto_da_alloc) start writing the new file's
/// data out on the spot, which costs milliseconds on a busy disk. Either way, `to` always
/// names a complete file.
pub(super) fn replace(from: &Path, to: &Path) -> io::Result<()> {
    let c_from = cstring(from)?;
    let c_to = cstring(to)?;
    // SAFETY: both paths are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return std::fs::remove_file(from);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // `to` does not exist yet, or the filesystem cannot exchange: a plain rename.
        Some(libc::ENOENT) | Some(libc::EINVAL) | Some(libc::ENOSYS) => std::fs::rename(from, to),
        _ => Err(e),
    }
}

/// Reads a file of at most a few hundred bytes with open + read + close.
pub(super) fn read_small(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut buf = [0u8; 512];
    let n = file.read(&mut buf)?;
    let mut out = buf[..n].to_vec();
    if n == buf.len() {
        file.read_to_end(&mut out)?;
    }
    Ok(out)
}

fn cstring(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(ErrorKind::InvalidInput, "path contains a NUL byte"))
}
