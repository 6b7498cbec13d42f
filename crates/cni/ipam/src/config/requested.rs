//! Addresses the runtime asks for, the ways host-local accepts them: `CNI_ARGS`
//! `IP=10.1.0.5,fd00::5`, `args.cni.ips` and `runtimeConfig.ips` (the `ips` capability).
//! Each may carry a prefix length, which is ignored. Each is matched to the range set that
//! holds it; at most one per set.

use std::net::IpAddr;

use ipnet::IpNet;
use podnet_cni_spec::CniArgs;
use serde::Deserialize;

use crate::error::Error;
use crate::range::RangeSet;

#[derive(Deserialize)]
pub(crate) struct RawArgs {
    #[serde(default)]
    cni: Option<RawRuntimeConfig>,
}

/// `runtimeConfig` and `args.cni` both carry the list as `ips`.
#[derive(Deserialize)]
pub(crate) struct RawRuntimeConfig {
    #[serde(default)]
    ips: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedIp {
    pub ip: IpAddr,
    /// Where it was asked for (`CNI_ARGS IP`, `args.cni.ips[1]`, `runtimeConfig.ips[0]`).
    pub source: String,
    /// Index of the range set holding it.
    pub set: usize,
}

pub(crate) fn parse(
    cni_args: &CniArgs,
    args: Option<&RawArgs>,
    runtime_config: Option<&RawRuntimeConfig>,
    sets: &[RangeSet],
) -> Result<Vec<RequestedIp>, Error> {
    let mut raw: Vec<(String, &str)> = Vec::new();
    if let Some(list) = cni_args.get("IP") {
        raw.extend(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| ("CNI_ARGS IP".to_owned(), s)),
        );
    }
    let lists = [
        ("args.cni.ips", args.and_then(|a| a.cni.as_ref())),
        ("runtimeConfig.ips", runtime_config),
    ];
    for (field, list) in lists {
        for (i, s) in list.iter().flat_map(|l| &l.ips).enumerate() {
            raw.push((format!("{field}[{i}]"), s.as_str()));
        }
    }

    let mut out: Vec<RequestedIp> = Vec::new();
    for (source, s) in raw {
        let ip = s
            .parse::<IpAddr>()
            .or_else(|_| s.parse::<IpNet>().map(|n| n.addr()))
            .map_err(|_| Error::config(source.clone(), format!("{s} is not an IP address")))?;
        let set = sets
            .iter()
            .position(|set| set.range_of(ip).is_some())
            .ok_or_else(|| {
                let fields: Vec<&str> = sets.iter().map(|s| s.field.as_str()).collect();
                Error::config(
                    source.clone(),
                    format!(
                        "requested IP {ip} is outside every range ({})",
                        fields.join(", ")
                    ),
                )
            })?;
        match out.iter().find(|r| r.set == set) {
            // The same address asked for twice (say, by CNI_ARGS and runtimeConfig).
            Some(prev) if prev.ip == ip => {}
            Some(prev) => {
                return Err(Error::config(
                    source,
                    format!(
                        "requested IP {ip} and {} (from {}) are both in {}: one address per range set",
                        prev.ip, prev.source, sets[set].field
                    ),
                ));
            }
            None => out.push(RequestedIp { ip, source, set }),
        }
    }
    Ok(out)
}
