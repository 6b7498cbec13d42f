//! podnet-nft's one error type.

/// Why a transaction was refused, in the kernel's terms (its errno), so callers can tell a
/// conflict from a bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// ENOENT: a table, chain, set, element or rule handle that does not exist.
    NotFound,
    /// EBUSY: deleting a chain or set something still uses.
    Busy,
    /// EEXIST: redefining an object, or an element that is there with other data.
    Exists,
    /// Anything else: a type mismatch, a statement not allowed there.
    Invalid,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {netns}: running nft: {source}")]
    Spawn {
        netns: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {netns}: nft {what} failed: {stderr}")]
    Failed {
        netns: String,
        what: String,
        stderr: String,
    },
    #[error("{target}: transaction on table {table} refused ({refusal:?}): {detail}")]
    Refused {
        target: String,
        table: String,
        refusal: Refusal,
        detail: String,
    },
    #[error("network namespace {netns}: reading nft's listing: {detail}")]
    Listing { netns: String, detail: String },
    #[error("network namespace {netns}: reading table {table} over netlink: {detail}")]
    Netlink {
        netns: String,
        table: String,
        detail: String,
    },
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

// === impl Error ===

impl Error {
    /// The refusal, if the transaction was refused (rather than never run).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Error::Refused { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }
}

// === impl Refusal ===

impl Refusal {
    /// Classifies the errno the kernel answered a netlink message with.
    pub fn from_errno(errno: i32) -> Self {
        match errno {
            libc::ENOENT => Refusal::NotFound,
            libc::EBUSY => Refusal::Busy,
            libc::EEXIST => Refusal::Exists,
            _ => Refusal::Invalid,
        }
    }

    /// Classifies nft's error message by the errno text the kernel's answer carries.
    pub fn from_nft_stderr(stderr: &str) -> Self {
        let first = stderr
            .lines()
            .find(|l| l.contains("Error:"))
            .unwrap_or(stderr);
        if first.contains("No such file or directory") {
            Refusal::NotFound
        } else if first.contains("Device or resource busy") {
            Refusal::Busy
        } else if first.contains("File exists") || first.contains("interval overlaps") {
            Refusal::Exists
        } else {
            Refusal::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_errors_are_classified_by_the_kernels_errno() {
        let cases = [
            (
                "/dev/stdin:1:22-25: Error: Could not process rule: No such file or directory\nadd rule ip t a jump nope",
                Refusal::NotFound,
            ),
            (
                "Error: Could not process rule: Device or resource busy",
                Refusal::Busy,
            ),
            (
                "Error: Could not process rule: File exists",
                Refusal::Exists,
            ),
            (
                "Error: interval overlaps with an existing one",
                Refusal::Exists,
            ),
            (
                "Error: datatype mismatch, expected IPv4 address",
                Refusal::Invalid,
            ),
            (
                "Error: Could not process rule: Operation not supported",
                Refusal::Invalid,
            ),
        ];
        for (stderr, want) in cases {
            assert_eq!(Refusal::from_nft_stderr(stderr), want, "{stderr}");
        }
    }
}
