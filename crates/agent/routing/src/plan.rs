//! Desired vs. observed → the changes to make, and nothing else (pure).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::desired::{Desired, Route};
use crate::vtep::VtepMac;

/// A podnet route the kernel has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRoute {
    pub via: Option<Ipv4Addr>,
    /// The link's name; `#N` if the kernel reported an index no link has any more.
    pub dev: String,
    pub onlink: bool,
}

/// podnet's own objects as the kernel has them: routes with podnet's protocol number, and
/// the permanent neighbour and FDB entries of podnet's VXLAN device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub routes: BTreeMap<Ipv4Net, ObservedRoute>,
    pub neighbours: BTreeMap<Ipv4Addr, Option<VtepMac>>,
    pub fdb: BTreeSet<(VtepMac, Ipv4Addr)>,
}

/// The changes that turn the observed state into the desired one. Puts are replaces (one
/// request whether the object is missing or different).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub del_routes: Vec<(Ipv4Net, ObservedRoute)>,
    pub del_neighbours: Vec<Ipv4Addr>,
    pub del_fdb: Vec<(VtepMac, Ipv4Addr)>,
    pub put_fdb: Vec<(VtepMac, Ipv4Addr)>,
    pub put_neighbours: Vec<(Ipv4Addr, VtepMac)>,
    pub put_routes: Vec<(Ipv4Net, Route)>,
}

/// Diffs `observed` against `desired`.
pub fn plan(desired: &Desired, observed: &Observed) -> Plan {
    let mut p = Plan::default();
    for (dst, want) in &desired.routes {
        let same = observed.routes.get(dst).is_some_and(|have| {
            have.via == Some(want.via) && have.dev == want.dev && have.onlink == want.onlink
        });
        if !same {
            p.put_routes.push((*dst, want.clone()));
        }
    }
    for (dst, have) in &observed.routes {
        // A route to a desired destination that differs is replaced in place, not deleted.
        if !desired.routes.contains_key(dst) {
            p.del_routes.push((*dst, have.clone()));
        }
    }
    for (ip, want) in &desired.neighbours {
        if observed.neighbours.get(ip) != Some(&Some(want.mac)) {
            p.put_neighbours.push((*ip, want.mac));
        }
    }
    for ip in observed.neighbours.keys() {
        if !desired.neighbours.contains_key(ip) {
            p.del_neighbours.push(*ip);
        }
    }
    let want_fdb: BTreeSet<(VtepMac, Ipv4Addr)> =
        desired.fdb.iter().map(|(mac, e)| (*mac, e.dst)).collect();
    p.put_fdb = want_fdb.difference(&observed.fdb).copied().collect();
    p.del_fdb = observed
        .fdb
        .iter()
        // An entry whose MAC is still wanted is overwritten by the put (same MAC, new dst).
        .filter(|(mac, dst)| !want_fdb.contains(&(*mac, *dst)) && !desired.fdb.contains_key(mac))
        .copied()
        .collect();
    p
}

// === impl Plan ===

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of kernel requests the plan makes.
    pub fn len(&self) -> usize {
        self.del_routes.len()
            + self.del_neighbours.len()
            + self.del_fdb.len()
            + self.put_fdb.len()
            + self.put_neighbours.len()
            + self.put_routes.len()
    }
}

/// In the order [`crate::Kernel::apply`] runs it: removals first, then FDB and neighbours
/// before the routes that need them.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (dst, r) in &self.del_routes {
            let via = r.via.map(|v| format!(" via {v}")).unwrap_or_default();
            writeln!(f, "- route {dst}{via} dev {}", r.dev)?;
        }
        for ip in &self.del_neighbours {
            writeln!(f, "- neigh {ip}")?;
        }
        for (mac, dst) in &self.del_fdb {
            writeln!(f, "- fdb {mac} dst {dst}")?;
        }
        for (mac, dst) in &self.put_fdb {
            writeln!(f, "+ fdb {mac} dst {dst}")?;
        }
        for (ip, mac) in &self.put_neighbours {
            writeln!(f, "+ neigh {ip} lladdr {mac}")?;
        }
        for (dst, r) in &self.put_routes {
            let onlink = if r.onlink { " onlink" } else { "" };
            writeln!(
                f,
                "+ route {dst} via {} dev {}{onlink}  # {}",
                r.via, r.dev, r.node
            )?;
        }
        Ok(())
    }
}
