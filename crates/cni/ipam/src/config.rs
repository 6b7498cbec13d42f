//! The `ipam` section of a network config, as host-local reads it, validated up front so
//! that every error names the JSON path of the offending field
//! (`ipam.ranges[0][1].rangeStart: 10.9.0.300 is not an IP address`).
//!
//! Accepted: `ranges` (a list of range sets, each a list of `{subnet, rangeStart, rangeEnd,
//! gateway}`), the legacy single range directly in `ipam` (it becomes the first range set,
//! as in host-local), `routes`, `dataDir` and `resolvConf`. Requested addresses come from
//! `CNI_ARGS` (`IP=a,b`), `args.cni.ips` and `runtimeConfig.ips`.

mod ranges;
mod requested;

use std::path::{Path, PathBuf};

use podnet_cni_spec::{CniArgs, Route, decode};
use serde::Deserialize;

use crate::error::Error;
use crate::range::RangeSet;

pub use requested::RequestedIp;

/// host-local's default state directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// A validated `ipam` section plus the addresses this invocation asks for.
#[derive(Clone, Debug)]
pub struct IpamConfig {
    /// `<dataDir>/<network name>`: where this network's reservations live.
    pub network_dir: PathBuf,
    /// One address is handed out per set, in this order.
    pub range_sets: Vec<RangeSet>,
    pub routes: Vec<Route>,
    pub resolv_conf: Option<PathBuf>,
    /// Requested addresses, at most one per range set.
    pub requested: Vec<RequestedIp>,
}

#[derive(Deserialize)]
struct RawConf {
    #[serde(default)]
    ipam: Option<RawIpam>,
    #[serde(default)]
    args: Option<requested::RawArgs>,
    #[serde(rename = "runtimeConfig", default)]
    runtime_config: Option<requested::RawRuntimeConfig>,
}

#[derive(Deserialize)]
struct RawIpam {
    #[serde(default)]
    ranges: Vec<Vec<ranges::RawRange>>,
    // The legacy single-range form (not `flatten`ed, which would lose error paths).
    #[serde(default)]
    subnet: Option<String>,
    #[serde(rename = "rangeStart", default)]
    range_start: Option<String>,
    #[serde(rename = "rangeEnd", default)]
    range_end: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
    #[serde(default)]
    routes: Vec<Route>,
    #[serde(rename = "dataDir", default)]
    data_dir: Option<PathBuf>,
    #[serde(rename = "resolvConf", default)]
    resolv_conf: Option<PathBuf>,
}

// === impl IpamConfig ===

impl IpamConfig {
    /// Parses and validates everything an ADD, CHECK or STATUS needs.
    pub fn parse(stdin: &[u8], network: &str, cni_args: &CniArgs) -> Result<Self, Error> {
        let raw: RawConf = decode::json(stdin, "network config")?;
        let ipam = raw.ipam.ok_or_else(|| Error::config("ipam", "required"))?;
        let legacy = ranges::RawRange {
            subnet: ipam.subnet,
            range_start: ipam.range_start,
            range_end: ipam.range_end,
            gateway: ipam.gateway,
        };
        let range_sets = ranges::range_sets(&legacy, &ipam.ranges)?;
        let requested = requested::parse(
            cni_args,
            raw.args.as_ref(),
            raw.runtime_config.as_ref(),
            &range_sets,
        )?;
        Ok(Self {
            network_dir: network_dir(ipam.data_dir.as_deref(), network),
            range_sets,
            routes: ipam.routes,
            resolv_conf: ipam.resolv_conf,
            requested,
        })
    }

    /// Only where the network's state lives: DEL and GC need no more, and must work even
    /// when the ranges have since been edited into something invalid.
    pub fn parse_network_dir(stdin: &[u8], network: &str) -> Result<PathBuf, Error> {
        #[derive(Deserialize)]
        struct DirOnly {
            #[serde(default)]
            ipam: Option<DataDir>,
        }
        #[derive(Deserialize)]
        struct DataDir {
            #[serde(rename = "dataDir", default)]
            data_dir: Option<PathBuf>,
        }
        let raw: DirOnly = decode::json(stdin, "network config")?;
        let ipam = raw.ipam.ok_or_else(|| Error::config("ipam", "required"))?;
        Ok(network_dir(ipam.data_dir.as_deref(), network))
    }

    /// The address requested from range set `set`, if any.
    pub fn requested_in(&self, set: usize) -> Option<&RequestedIp> {
        self.requested.iter().find(|r| r.set == set)
    }
}

fn network_dir(data_dir: Option<&Path>, network: &str) -> PathBuf {
    // The network name was validated by the spec crate: it cannot climb out of dataDir.
    data_dir
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new(DEFAULT_DATA_DIR))
        .join(network)
}

#[cfg(test)]
mod tests;
