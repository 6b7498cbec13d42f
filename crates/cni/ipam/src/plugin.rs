//! The CNI verbs. Every one holds the network's lock for its whole length, so verbs of
//! different processes never interleave (host-local takes the same lock).
//!
//! - ADD: one address per range set (see [`add`]); an attachment that already holds one
//!   (an ADD retried after a crash) gets it back instead of a second one.
//! - CHECK: the attachment holds an address in every range set.
//! - DEL: releases everything the attachment holds; idempotent.
//! - GC: releases every reservation whose attachment is not in `cni.dev/valid-attachments`
//!   (absent means none is valid, as libcni sends no list when it tracks no attachment).
//! - STATUS: code 50 while some range set has no address left.

mod add;

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use podnet_cni_skel::{Invocation, Plugin};
use podnet_cni_spec::{CniError, CniResult, ErrorCode};

use crate::config::IpamConfig;
use crate::crash::CrashHook;
use crate::error::Error;
use crate::order::AllocationOrder;
use crate::store::{Attachment, Reservation, Store};

#[derive(Clone, Copy, Debug, Default)]
pub struct IpamPlugin {
    hook: CrashHook,
}

// === impl IpamPlugin ===

impl IpamPlugin {
    /// The plugin as the binary runs it: with the crash hook read from the environment.
    pub fn from_env() -> Self {
        Self {
            hook: CrashHook::from_env(),
        }
    }

    /// Every reservation of the network, read under its lock; none if it has no state yet.
    fn reservations(&self, dir: &Path) -> Result<Vec<Reservation>, Error> {
        match Store::open_existing(dir, self.hook)? {
            Some(store) => {
                let all = store.scan()?;
                store.unlock();
                Ok(all)
            }
            None => Ok(Vec::new()),
        }
    }

    /// Releases the reservations `stale` picks, under the lock.
    fn release_where(
        &self,
        inv: &Invocation,
        stale: impl Fn(&Reservation) -> bool,
    ) -> Result<(), Error> {
        let dir = IpamConfig::parse_network_dir(&inv.stdin, &inv.conf.name)?;
        let Some(store) = Store::open_existing(&dir, self.hook)? else {
            return Ok(());
        };
        let doomed: Vec<Reservation> = store.scan()?.into_iter().filter(|r| stale(r)).collect();
        let released = store.release_all(&doomed)?;
        tracing::info!(released, dir = %store.dir().display(), "released reservations");
        store.unlock();
        Ok(())
    }
}

impl Plugin for IpamPlugin {
    fn add(&self, inv: &Invocation) -> Result<CniResult, CniError> {
        add::add(inv, self.hook)
    }

    fn check(&self, inv: &Invocation) -> Result<(), CniError> {
        let conf = IpamConfig::parse(&inv.stdin, &inv.conf.name, &inv.args)?;
        let me = attachment(inv)?;
        let held = self.reservations(&conf.network_dir)?;
        for set in &conf.range_sets {
            if !held
                .iter()
                .any(|r| r.is_owned_by(&me) && set.range_of(r.ip).is_some())
            {
                return Err(Error::NotAttached {
                    container_id: me.container_id,
                    ifname: me.ifname,
                    set: set.field.clone(),
                }
                .into());
            }
        }
        Ok(())
    }

    fn del(&self, inv: &Invocation) -> Result<(), CniError> {
        let me = attachment(inv)?;
        Ok(self.release_where(inv, |r| r.is_owned_by(&me))?)
    }

    fn gc(&self, inv: &Invocation) -> Result<(), CniError> {
        let valid: Vec<Attachment> = inv
            .conf
            .valid_attachments
            .iter()
            .flatten()
            .map(|v| Attachment::new(&v.container_id, &v.ifname))
            .collect();
        Ok(self.release_where(inv, |r| !valid.iter().any(|v| r.is_owned_by(v)))?)
    }

    fn status(&self, inv: &Invocation) -> Result<(), CniError> {
        let conf = IpamConfig::parse(&inv.stdin, &inv.conf.name, &inv.args)?;
        let used: HashSet<IpAddr> = self
            .reservations(&conf.network_dir)?
            .iter()
            .map(|r| r.ip)
            .collect();
        for set in &conf.range_sets {
            if AllocationOrder::new(set, None).all(|(ip, _)| used.contains(&ip)) {
                let exhausted = Error::Exhausted {
                    set: set.field.clone(),
                    ranges: set.to_string(),
                };
                return Err(CniError::new(
                    ErrorCode::PLUGIN_NOT_AVAILABLE,
                    exhausted.to_string(),
                ));
            }
        }
        Ok(())
    }
}

fn attachment(inv: &Invocation) -> Result<Attachment, CniError> {
    Ok(Attachment::new(&inv.container_id, inv.ifname()?.as_str()))
}
