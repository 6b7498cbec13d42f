//! LoadBalancer address allocation (LB IPAM), pure: pools of addresses, Services in, an address
//! or a reason out. No I/O: a controller feeds it the Services it watches and writes the result
//! to `status.loadBalancer.ingress[]`. In the lab it runs in the lab's controllers; the node
//! agent can later run the same allocator under a Lease so that one leader hands out addresses.
//!
//! Rules (MetalLB's and Cilium LB-IPAM's, under podnet's names):
//! - only `type: LoadBalancer` Services whose `spec.loadBalancerClass` is unset or
//!   [`LB_CLASS`] are served; any other Service holds nothing.
//! - an address is requested by `spec.loadBalancerIP` or the [`ANNOTATION_IPS`] annotation
//!   (comma-separated); a pool by [`ANNOTATION_POOL`]; otherwise the first pool that selects the
//!   Service and auto-assigns gives its lowest free address.
//! - Services share an address only if they carry the same [`ANNOTATION_SHARING_KEY`] and their
//!   ports (protocol, port) do not collide.
//! - an address a Service already shows in its status is kept if still valid, so a restart
//!   of the allocator (which replays every Service) never reshuffles addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

/// `spec.loadBalancerClass` podnet serves (besides none).
pub const LB_CLASS: &str = "podnet.io/lb";
/// Requested addresses, comma-separated (as MetalLB's `loadBalancerIPs`).
pub const ANNOTATION_IPS: &str = "lbipam.podnet.io/ips";
/// The pool to allocate from, by name.
pub const ANNOTATION_POOL: &str = "lbipam.podnet.io/pool";
/// Services with the same key may share an address if their ports differ.
pub const ANNOTATION_SHARING_KEY: &str = "lbipam.podnet.io/sharing-key";

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    first: IpAddr,
    last: IpAddr,
}

/// A pool: ranges, which Services it serves and whether it assigns without being asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    pub ranges: Vec<AddressRange>,
    /// Labels a Service must carry (all of them) to get an address from this pool; empty: any.
    pub service_selector: BTreeMap<String, String>,
    /// false: only Services that request this pool or one of its addresses get one.
    pub auto_assign: bool,
}

/// What the allocator needs of one Service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LbService {
    /// `namespace/name`.
    pub key: String,
    pub is_load_balancer: bool,
    pub class: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `spec.loadBalancerIP` (deprecated upstream, still honoured).
    pub load_balancer_ip: Option<String>,
    /// `(protocol, port)` of `spec.ports[]`.
    pub ports: Vec<(String, u16)>,
    /// `status.loadBalancer.ingress[].ip` as stored now.
    pub status_ips: Vec<IpAddr>,
}

/// Why a Service got no address. Reported as an Event and a condition, never a silent pending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LbAllocError {
    #[error("no available IPs in pool {pool:?}")]
    PoolExhausted { pool: String },
    #[error("no pool with autoAssign selects this Service")]
    NoMatchingPool,
    #[error("requested pool {pool:?} does not exist")]
    UnknownPool { pool: String },
    #[error("requested address {ip:?} is not valid")]
    InvalidAddress { ip: String },
    #[error("requested IP {ip} is not in any pool that serves this Service")]
    NotInPool { ip: IpAddr },
    #[error("requested IP {ip} is already allocated to {holder}")]
    InUse { ip: IpAddr, holder: String },
    #[error("requested IP {ip} is shared with {holder}, whose ports collide with this Service's")]
    PortCollision { ip: IpAddr, holder: String },
}

impl LbAllocError {
    /// A CamelCase reason for the Service's condition.
    pub fn reason(&self) -> &'static str {
        match self {
            LbAllocError::PoolExhausted { .. } => "PoolExhausted",
            LbAllocError::NoMatchingPool => "NoMatchingPool",
            LbAllocError::UnknownPool { .. } => "UnknownPool",
            LbAllocError::InvalidAddress { .. } => "InvalidAddress",
            LbAllocError::NotInPool { .. } => "AddressNotInPool",
            LbAllocError::InUse { .. } => "AddressInUse",
            LbAllocError::PortCollision { .. } => "PortCollision",
        }
    }
}

/// The result of [`LbAllocator::assign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LbOutcome {
    /// The Service holds these addresses (newly or as before).
    Assigned(Vec<IpAddr>),
    /// Not podnet's: not a LoadBalancer or another class. It holds nothing now; a status
    /// this allocator wrote must be cleared.
    NotServed,
}

/// One Service holding an address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    key: String,
    sharing_key: Option<String>,
    ports: BTreeSet<(String, u16)>,
}

/// The pools and who holds which address.
#[derive(Debug, Clone, Default)]
pub struct LbAllocator {
    pools: Vec<Pool>,
    holders: BTreeMap<IpAddr, Vec<Holder>>,
}

// === impl AddressRange ===

impl AddressRange {
    /// `a.b.c.d-e.f.g.h`, or a CIDR (every address of it, as MetalLB and Cilium pools do).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Some((first, last)) = s.split_once('-') {
            let first: IpAddr = first.trim().parse().ok()?;
            let last: IpAddr = last.trim().parse().ok()?;
            let same_family = first.is_ipv4() == last.is_ipv4();
            return (same_family && first <= last).then_some(AddressRange { first, last });
        }
        let net: IpNet = s.parse().ok()?;
        Some(AddressRange {
            first: net.network(),
            last: net.broadcast(),
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.first.is_ipv4() && self.first <= ip && ip <= self.last
    }

    fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (first, last) = (to_u128(self.first), to_u128(self.last));
        let v4 = self.first.is_ipv4();
        (first..=last).map(move |n| from_u128(n, v4))
    }
}

/// `first-last`, as [`AddressRange::parse`] reads it.
impl std::fmt::Display for AddressRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a).into(),
        IpAddr::V6(a) => a.into(),
    }
}

fn from_u128(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4((n as u32).into())
    } else {
        IpAddr::V6(n.into())
    }
}

// === impl Pool ===

impl Pool {
    fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    fn selects(&self, svc: &LbService) -> bool {
        self.service_selector
            .iter()
            .all(|(k, v)| svc.labels.get(k) == Some(v))
    }
}

// === impl LbService ===

impl LbService {
    /// podnet's to serve: a LoadBalancer of podnet's class or none.
    pub fn is_served(&self) -> bool {
        self.is_load_balancer && self.class.as_deref().is_none_or(|c| c == LB_CLASS)
    }

    fn requested_ips(&self) -> Vec<&str> {
        let from_annotation = self
            .annotations
            .get(ANNOTATION_IPS)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()));
        match from_annotation {
            Some(ips) => ips.collect(),
            None => self
                .load_balancer_ip
                .as_deref()
                .filter(|s| !s.is_empty())
                .into_iter()
                .collect(),
        }
    }

    fn holder(&self) -> Holder {
        Holder {
            key: self.key.clone(),
            sharing_key: self.annotations.get(ANNOTATION_SHARING_KEY).cloned(),
            ports: self.ports.iter().cloned().collect(),
        }
    }
}

// === impl LbAllocator ===

impl LbAllocator {
    pub fn new(pools: Vec<Pool>) -> Self {
        LbAllocator {
            pools,
            holders: BTreeMap::new(),
        }
    }

    /// The lab's pool (DESIGN.md): 172.18.255.200–172.18.255.250, for every Service.
    pub fn lab_pool() -> Pool {
        Pool {
            name: "default".to_owned(),
            ranges: vec![AddressRange::parse("172.18.255.200-172.18.255.250").expect("literal")],
            service_selector: BTreeMap::new(),
            auto_assign: true,
        }
    }

    pub fn pools(&self) -> &[Pool] {
        &self.pools
    }

    /// The Services holding `ip`, by key.
    pub fn holders_of(&self, ip: IpAddr) -> Vec<&str> {
        self.holders
            .get(&ip)
            .map(|hs| hs.iter().map(|h| h.key.as_str()).collect())
            .unwrap_or_default()
    }

    /// The addresses `key` holds.
    pub fn held_by(&self, key: &str) -> Vec<IpAddr> {
        self.holders
            .iter()
            .filter(|(_, hs)| hs.iter().any(|h| h.key == key))
            .map(|(ip, _)| *ip)
            .collect()
    }

    /// The Service is gone (or no longer ours): its addresses are free for others.
    pub fn release(&mut self, key: &str) {
        self.holders.retain(|_, hs| {
            hs.retain(|h| h.key != key);
            !hs.is_empty()
        });
    }

    /// Gives `svc` its addresses: the requested ones, else the ones its status shows (kept
    /// across restarts), else the lowest free one of the first pool that serves it. On error
    /// the Service holds nothing.
    pub fn assign(&mut self, svc: &LbService) -> Result<LbOutcome, LbAllocError> {
        let kept = self.held_by(&svc.key);
        self.release(&svc.key);
        if !svc.is_served() {
            return Ok(LbOutcome::NotServed);
        }
        let holder = svc.holder();
        let ips = self.choose(svc, &holder, kept)?;
        for ip in &ips {
            self.holders.entry(*ip).or_default().push(holder.clone());
        }
        Ok(LbOutcome::Assigned(ips))
    }

    /// The addresses `svc` should hold, `kept` being those it held until now.
    fn choose(
        &self,
        svc: &LbService,
        holder: &Holder,
        kept: Vec<IpAddr>,
    ) -> Result<Vec<IpAddr>, LbAllocError> {
        let pools = self.pools_for(svc)?;
        let requested = svc.requested_ips();
        if !requested.is_empty() {
            let mut ips = Vec::with_capacity(requested.len());
            for s in requested {
                let ip: IpAddr = s
                    .parse()
                    .map_err(|_| LbAllocError::InvalidAddress { ip: s.to_owned() })?;
                if !pools.iter().any(|p| p.contains(ip)) {
                    return Err(LbAllocError::NotInPool { ip });
                }
                self.check_shareable(ip, holder)?;
                ips.push(ip);
            }
            return Ok(ips);
        }
        let current = if kept.is_empty() {
            svc.status_ips.clone()
        } else {
            kept
        };
        let current: Vec<IpAddr> = current
            .into_iter()
            .filter(|ip| pools.iter().any(|p| p.contains(*ip)))
            .filter(|ip| self.check_shareable(*ip, holder).is_ok())
            .collect();
        if current.is_empty() {
            Ok(vec![self.pick(&pools, holder)?])
        } else {
            Ok(current)
        }
    }

    /// The pools `svc` may take from: the one it names, else those that select it and
    /// auto-assign (or, when it requests addresses, those that select it).
    fn pools_for(&self, svc: &LbService) -> Result<Vec<Pool>, LbAllocError> {
        let requested_pool = svc.annotations.get(ANNOTATION_POOL);
        let asks_for_ips = !svc.requested_ips().is_empty();
        let pools: Vec<Pool> = self
            .pools
            .iter()
            .filter(|p| match requested_pool {
                Some(name) => &p.name == name,
                None => p.selects(svc) && (p.auto_assign || asks_for_ips),
            })
            .cloned()
            .collect();
        match requested_pool {
            Some(pool) if pools.is_empty() => Err(LbAllocError::UnknownPool { pool: pool.clone() }),
            None if pools.is_empty() => Err(LbAllocError::NoMatchingPool),
            _ => Ok(pools),
        }
    }

    /// Whether `holder` may hold `ip` beside those holding it now.
    fn check_shareable(&self, ip: IpAddr, holder: &Holder) -> Result<(), LbAllocError> {
        for other in self.holders.get(&ip).into_iter().flatten() {
            if other.key == holder.key {
                continue;
            }
            let same_key = holder.sharing_key.is_some() && other.sharing_key == holder.sharing_key;
            if !same_key {
                return Err(LbAllocError::InUse {
                    ip,
                    holder: other.key.clone(),
                });
            }
            if !other.ports.is_disjoint(&holder.ports) {
                return Err(LbAllocError::PortCollision {
                    ip,
                    holder: other.key.clone(),
                });
            }
        }
        Ok(())
    }

    /// The lowest address of the first pool that `holder` may hold: a free one, or one shared
    /// under its sharing key.
    fn pick(&self, pools: &[Pool], holder: &Holder) -> Result<IpAddr, LbAllocError> {
        if holder.sharing_key.is_some() {
            let shared = pools
                .iter()
                .flat_map(|p| p.ranges.iter().flat_map(|r| r.addresses()))
                .find(|ip| {
                    self.holders.contains_key(ip) && self.check_shareable(*ip, holder).is_ok()
                });
            if let Some(ip) = shared {
                return Ok(ip);
            }
        }
        pools
            .iter()
            .flat_map(|p| p.ranges.iter().flat_map(|r| r.addresses()))
            .find(|ip| !self.holders.contains_key(ip))
            .ok_or_else(|| LbAllocError::PoolExhausted {
                pool: pools
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            })
    }
}

#[cfg(test)]
#[path = "lb_tests.rs"]
mod tests;
