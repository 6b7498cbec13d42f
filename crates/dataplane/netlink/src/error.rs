use std::io;

/// What went wrong, with the namespace and the object it was about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {netns}: opening a netlink socket: {source}")]
    Open {
        netns: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
    /// The kernel refused the request with an errno.
    #[error("network namespace {netns}: {op}: {source}")]
    Kernel {
        netns: String,
        op: String,
        #[source]
        source: io::Error,
    },
    /// The socket or the answer was not what netlink promises (closed, undecodable).
    #[error("network namespace {netns}: {op}: {msg}")]
    Protocol {
        netns: String,
        op: String,
        msg: String,
    },
    #[error("network namespace {netns}: link {name:?} not found")]
    LinkNotFound { netns: String, name: String },
    #[error("network namespace {netns}: link {name:?} exists but is a {kind}, not a {want}")]
    WrongKind {
        netns: String,
        name: String,
        kind: String,
        want: &'static str,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

// === impl Error ===

impl Error {
    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::LinkNotFound { .. })
            || matches!(
                self.errno(),
                Some(libc::ENOENT | libc::ENODEV | libc::ESRCH)
            )
    }

    /// The kernel said "busy, try again": worth retrying later, not a configuration error.
    pub fn is_busy(&self) -> bool {
        matches!(self.errno(), Some(libc::EBUSY | libc::EAGAIN))
    }
}
