//! ADD: one address from each range set, in order, under the network's lock.
//!
//! Per set: an address the attachment already holds is returned as it is (an ADD retried
//! after a crash must not take a second one); else the requested address, if any; else the
//! next free one in round-robin order. If any set fails, what this ADD reserved is
//! released again, so a failed ADD leaves nothing behind.

use std::collections::HashSet;
use std::net::IpAddr;

use podnet_cni_skel::Invocation;
use podnet_cni_spec::{CniError, CniResult, IpConfig};

use super::attachment;
use crate::config::{IpamConfig, RequestedIp};
use crate::crash::CrashHook;
use crate::error::Error;
use crate::order::AllocationOrder;
use crate::range::RangeSet;
use crate::resolv;
use crate::store::{Attachment, Reservation, Store};

pub(super) fn add(inv: &Invocation, hook: CrashHook) -> Result<CniResult, CniError> {
    // Everything that can be refused is checked before the lock is taken.
    let conf = IpamConfig::parse(&inv.stdin, &inv.conf.name, &inv.args)?;
    let dns = match &conf.resolv_conf {
        Some(path) => resolv::read(path)?,
        None => Default::default(),
    };
    let me = attachment(inv)?;
    let store = Store::open(&conf.network_dir, hook)?;
    let ips = Allocation::new(&store, &me)?.run(&conf)?;
    store.unlock();
    Ok(CniResult {
        interfaces: Vec::new(),
        ips,
        routes: conf.routes,
        dns,
    })
}

/// One ADD's work under the lock.
struct Allocation<'s> {
    store: &'s Store,
    me: &'s Attachment,
    existing: Vec<Reservation>,
    used: HashSet<IpAddr>,
    /// What this ADD reserved, to release again if a later set fails.
    fresh: Vec<Reservation>,
}

// === impl Allocation ===

impl<'s> Allocation<'s> {
    fn new(store: &'s Store, me: &'s Attachment) -> Result<Self, Error> {
        let existing = store.scan()?;
        let used = existing.iter().map(|r| r.ip).collect();
        Ok(Self {
            store,
            me,
            existing,
            used,
            fresh: Vec::new(),
        })
    }

    fn run(mut self, conf: &IpamConfig) -> Result<Vec<IpConfig>, Error> {
        let mut ips = Vec::with_capacity(conf.range_sets.len());
        for (i, set) in conf.range_sets.iter().enumerate() {
            match self.take(i, set, conf.requested_in(i)) {
                Ok(ip) => {
                    let range = set
                        .range_of(ip)
                        .expect("every address taken lies in its set");
                    ips.push(IpConfig {
                        interface: None,
                        address: range.address(ip),
                        gateway: Some(range.gateway),
                    });
                }
                Err(e) => {
                    self.roll_back();
                    return Err(e);
                }
            }
        }
        Ok(ips)
    }

    fn take(
        &mut self,
        i: usize,
        set: &RangeSet,
        requested: Option<&RequestedIp>,
    ) -> Result<IpAddr, Error> {
        let held = self
            .existing
            .iter()
            .find(|r| r.is_owned_by(self.me) && set.range_of(r.ip).is_some())
            .map(|r| r.ip);
        match (held, requested) {
            (Some(ip), None) => Ok(ip),
            (Some(ip), Some(r)) if ip == r.ip => Ok(ip),
            (Some(ip), Some(r)) => Err(unavailable(
                r,
                format!("this attachment already holds {ip} in {}", set.field),
            )),
            (None, Some(r)) => self.take_requested(i, set, r),
            (None, None) => self.take_next(i, set),
        }
    }

    fn take_requested(
        &mut self,
        i: usize,
        set: &RangeSet,
        r: &RequestedIp,
    ) -> Result<IpAddr, Error> {
        let range = set
            .range_of(r.ip)
            .expect("requested addresses are matched to their set when parsed");
        if r.ip == range.gateway {
            return Err(unavailable(r, format!("it is the gateway of {range}")));
        }
        if !range.hands_out(r.ip) {
            return Err(unavailable(
                r,
                format!("it is the network or broadcast address of {}", range.subnet),
            ));
        }
        if !self.used.contains(&r.ip) && self.reserve(i, r.ip)? {
            return Ok(r.ip);
        }
        let holder = self
            .existing
            .iter()
            .find(|e| e.ip == r.ip)
            .and_then(|e| e.owner.as_ref())
            .map_or("another attachment".to_owned(), |o| {
                format!("container {:?} interface {:?}", o.container_id, o.ifname)
            });
        Err(unavailable(r, format!("already reserved by {holder}")))
    }

    fn take_next(&mut self, i: usize, set: &RangeSet) -> Result<IpAddr, Error> {
        let last = self.store.last_reserved(i);
        for (ip, _) in AllocationOrder::new(set, last) {
            if !self.used.contains(&ip) && self.reserve(i, ip)? {
                return Ok(ip);
            }
        }
        Err(Error::Exhausted {
            set: set.field.clone(),
            ranges: set.to_string(),
        })
    }

    /// Links the reservation and moves the set's round-robin marker; false if taken.
    fn reserve(&mut self, set: usize, ip: IpAddr) -> Result<bool, Error> {
        let Some(r) = self.store.reserve(ip, self.me)? else {
            return Ok(false);
        };
        tracing::info!(%ip, set, "reserved");
        self.fresh.push(r);
        self.used.insert(ip);
        self.store.set_last_reserved(set, ip)?;
        Ok(true)
    }

    fn roll_back(&self) {
        for r in &self.fresh {
            if let Err(e) = self.store.release(r) {
                tracing::warn!(ip = %r.ip, error = %e, "releasing after a failed ADD");
            }
        }
    }
}

fn unavailable(r: &RequestedIp, reason: String) -> Error {
    Error::Unavailable {
        ip: r.ip,
        source_field: r.source.clone(),
        reason,
    }
}
