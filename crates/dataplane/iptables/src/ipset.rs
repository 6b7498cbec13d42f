//! ipset through `ipset restore`: the sets of the ipvs mode (KUBE-CLUSTER-IP, …), written in
//! one batch per sync.

use std::path::Path;

use crate::Result;
use crate::exec::Place;

const IPSET: &str = "ipset";

/// The ipsets of one network namespace (`None`: the caller's own).
#[derive(Clone, Debug, Default)]
pub struct Ipset {
    place: Place,
}

// === impl Ipset ===

impl Ipset {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            place: Place::new(netns),
        }
    }

    /// Applies `script` (`ipset save` syntax: `create …`, `add …`, `del …`, `flush …`,
    /// `destroy …`, `swap …`) with `-exist`, so that re-creating a set with the same type and
    /// re-adding a member are not errors. ipset has no transactions: a bad line stops the batch
    /// there. Callers build a set under a temporary name and `swap` it in when a whole set
    /// must change at once.
    pub fn restore(&self, script: &str) -> Result<()> {
        tracing::debug!(netns = %self.place.label(), lines = script.lines().count(), "ipset restore");
        let ran = self
            .place
            .run(IPSET, &["restore", "-exist"], script.as_bytes())?;
        if !ran.ok {
            return Err(self.place.rejected(IPSET, script, ran.stderr));
        }
        Ok(())
    }

    /// Every set and member, as `ipset save` prints them.
    pub fn save(&self) -> Result<String> {
        self.place.run_ok(IPSET, &["save"], b"", "save")
    }

    /// The names of the sets that exist.
    pub fn names(&self) -> Result<Vec<String>> {
        let out = self.place.run_ok(IPSET, &["list", "-n"], b"", "list")?;
        Ok(out.lines().map(str::to_owned).collect())
    }
}
