//! The `nft` binary as an executor: a transaction becomes an `nft -f -` script, which the
//! kernel applies atomically (a failing line applies nothing), as kube-proxy's knftables does.
//! State is read back over netlink (structure, typed elements) plus `nft -a list table` for
//! each rule's canonical text by handle.

use std::path::{Path, PathBuf};

use crate::dump::TableDump;
use crate::error::{Error, Refusal, Result};
use crate::netlink::NetlinkReader;
use crate::object::TableId;
use crate::transaction::Transaction;
use crate::{Executor, readback, render};

/// The `nft` binary, looked up in PATH.
const NFT: &str = "nft";

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
        self.list_table_with(&[], family, name)
    }

    fn list_table_with(&self, flags: &[&str], family: &str, name: &str) -> Result<Option<String>> {
        let mut args = flags.to_vec();
        args.extend(["list", "table", family, name]);
        match self.run(&args, b"", "list table") {
            Ok(out) => Ok(Some(out)),
            Err(Error::Failed { stderr, .. }) if stderr.contains("No such file or directory") => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
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

impl Executor for Nft {
    fn execute(&mut self, tx: &Transaction) -> Result<()> {
        if tx.is_empty() {
            return Ok(());
        }
        let script = render::script(tx);
        tracing::debug!(
            netns = %self.label(),
            table = %tx.table.name,
            ops = tx.ops.len(),
            "nft typed transaction"
        );
        self.apply(&script).map_err(|e| match e {
            Error::Failed { netns, stderr, .. } => Error::Refused {
                target: format!("nft in {netns}"),
                table: format!("{} {}", tx.table.family, tx.table.name),
                refusal: Refusal::from_nft_stderr(&stderr),
                detail: stderr,
            },
            e => e,
        })
    }

    fn dump(&self, table: &TableId) -> Result<Option<TableDump>> {
        let reader = NetlinkReader::new(self.netns.as_deref());
        let Some(listing) = reader.read(table)? else {
            return Ok(None);
        };
        let Some(text) = self.list_table_with(&["-a"], table.family.name(), &table.name)? else {
            return Ok(None);
        };
        readback::table(table, listing, &text)
            .map(Some)
            .map_err(|detail| Error::Listing {
                netns: self.label(),
                detail,
            })
    }
}
