//! nftables through the `nft` binary, fed text on stdin: `nft -f -` applies a whole
//! transaction atomically (a failing line applies nothing), as kube-proxy's knftables does.
//!
//! Inside another network namespace the binary is spawned from a thread that entered it
//! ([`podnet_netns::run_in`]): a child inherits the namespace of the thread that forks it,
//! so no `ip netns exec` and no `setns` on the caller's thread.

use std::path::{Path, PathBuf};

/// The `nft` binary, looked up in PATH.
const NFT: &str = "nft";

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
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// nftables in one network namespace (`None`: the caller's own).
#[derive(Clone, Debug, Default)]
pub struct Nft {
    netns: Option<PathBuf>,
}

// === impl Nft ===

impl Nft {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            netns: netns.map(Path::to_owned),
        }
    }

    /// Applies `transaction` (nft's script syntax) atomically: all of it or nothing.
    pub fn apply(&self, transaction: &str) -> Result<()> {
        tracing::debug!(netns = %self.label(), lines = transaction.lines().count(), "nft transaction");
        self.run(&["-f", "-"], transaction.as_bytes(), "transaction")
            .map(drop)
    }

    /// Checks `transaction` without applying it (`nft -c`).
    pub fn check(&self, transaction: &str) -> Result<()> {
        self.run(&["-c", "-f", "-"], transaction.as_bytes(), "check")
            .map(drop)
    }

    /// The table `family name` as `nft list table` prints it; `None` if it does not exist.
    pub fn list_table(&self, family: &str, name: &str) -> Result<Option<String>> {
        match self.run(&["list", "table", family, name], b"", "list table") {
            Ok(out) => Ok(Some(out)),
            Err(Error::Failed { stderr, .. }) if stderr.contains("No such file or directory") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `nft -t list <what…>` (terse: set elements left out), e.g. `["chains", "ip"]`.
    pub fn list(&self, what: &[&str]) -> Result<String> {
        let mut args = vec!["-t", "list"];
        args.extend_from_slice(what);
        self.run(&args, b"", "list")
    }

    fn run(&self, args: &[&str], stdin: &[u8], what: &str) -> Result<String> {
        let out =
            podnet_netns::output(self.netns.as_deref(), NFT, args, stdin)?.map_err(|source| {
                Error::Spawn {
                    netns: self.label(),
                    source,
                }
            })?;
        if !out.status.success() {
            return Err(Error::Failed {
                netns: self.label(),
                what: what.to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn label(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(|| "(own)".to_owned(), |p| p.display().to_string())
    }
}
