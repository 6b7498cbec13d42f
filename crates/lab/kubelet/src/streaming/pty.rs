//! A pseudo-terminal for `tty: true` sessions: the slave end becomes the process's stdin,
//! stdout, stderr and controlling terminal; the kubelet reads and writes the master end and
//! sets its window size on resize. Both ends are close-on-exec from the start, so no other
//! process the kubelet starts inherits them (a leaked slave would keep the session open).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::process::Stdio;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};

use super::channel::TerminalSize;
use crate::container::ProcessIo;

/// The master end of a pty.
pub(crate) struct Pty {
    master: OwnedFd,
}

// === impl Pty ===

impl Pty {
    /// A new pty: its master, and the slave's streams for the process.
    pub(crate) fn open() -> io::Result<(Pty, ProcessIo)> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let slave_path = ptsname_r(&master)?;
        let slave: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            // Not the kubelet's own controlling terminal; std adds O_CLOEXEC.
            .custom_flags(libc::O_NOCTTY)
            .open(&slave_path)?
            .into();
        let io = ProcessIo {
            stdin: Stdio::from(slave.try_clone()?),
            stdout: Stdio::from(slave.try_clone()?),
            stderr: Stdio::from(slave),
            controlling_tty: true,
        };
        let master = OwnedFd::from(master);
        Ok((Pty { master }, io))
    }

    /// A handle on the master for reading the terminal's output (EIO once every slave is
    /// closed, i.e. the session's processes are gone).
    pub(crate) fn reader(&self) -> io::Result<tokio::fs::File> {
        Ok(tokio::fs::File::from_std(File::from(
            self.master.try_clone()?,
        )))
    }

    /// A handle on the master for typing into the terminal.
    pub(crate) fn writer(&self) -> io::Result<tokio::fs::File> {
        self.reader()
    }

    /// TIOCSWINSZ: the process group of the terminal gets SIGWINCH.
    pub(crate) fn resize(&self, size: TerminalSize) -> io::Result<()> {
        let ws = libc::winsize {
            ws_row: size.height,
            ws_col: size.width,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: the fd is open for the life of self; the ioctl reads one winsize.
        let rc = unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resize_is_what_the_slave_reports() {
        let (pty, io) = Pty::open().unwrap();
        pty.resize(TerminalSize {
            width: 132,
            height: 43,
        })
        .unwrap();
        drop(io);
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: reads one winsize from an open fd.
        let rc = unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
        assert_eq!(rc, 0);
        assert_eq!((ws.ws_col, ws.ws_row), (132, 43));
    }
}
