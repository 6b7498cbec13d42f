//! Range sets from their raw JSON: host-local's defaults and checks, plus the ones it lacks
//! (a gateway outside its subnet, a range that ends before it starts).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::Error;
use crate::range::{Range, RangeSet, to_u128};

/// One range as written; every field optional so that a missing one is reported by name.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawRange {
    #[serde(default)]
    pub subnet: Option<String>,
    #[serde(rename = "rangeStart", default)]
    pub range_start: Option<String>,
    #[serde(rename = "rangeEnd", default)]
    pub range_end: Option<String>,
    #[serde(default)]
    pub gateway: Option<String>,
}

impl RawRange {
    fn is_empty(&self) -> bool {
        self.subnet.is_none()
            && self.range_start.is_none()
            && self.range_end.is_none()
            && self.gateway.is_none()
    }
}

/// The legacy range (if any) becomes the first set, then `ranges` in order. No two ranges
/// anywhere may share an address, and each set holds one address family.
pub(crate) fn range_sets(
    legacy: &RawRange,
    sets: &[Vec<RawRange>],
) -> Result<Vec<RangeSet>, Error> {
    let mut out = Vec::new();
    // Every range with its JSON path, for the overlap check across sets.
    let mut all: Vec<(String, Range)> = Vec::new();
    if !legacy.is_empty() {
        if legacy.subnet.is_none() {
            return Err(Error::config(
                "ipam.subnet",
                "required with ipam.rangeStart, ipam.rangeEnd or ipam.gateway (or use ipam.ranges)",
            ));
        }
        let r = range(legacy, "ipam")?;
        all.push(("ipam".into(), r.clone()));
        out.push(RangeSet {
            field: "ipam".into(),
            ranges: vec![r],
        });
    }
    for (i, raw_set) in sets.iter().enumerate() {
        let field = format!("ipam.ranges[{i}]");
        if raw_set.is_empty() {
            return Err(Error::config(field, "a range set needs at least one range"));
        }
        let mut ranges: Vec<Range> = Vec::with_capacity(raw_set.len());
        for (j, raw) in raw_set.iter().enumerate() {
            let path = format!("{field}[{j}]");
            let r = range(raw, &path)?;
            if let Some(first) = ranges.first()
                && first.is_ipv4() != r.is_ipv4()
            {
                return Err(Error::config(
                    path,
                    format!(
                        "{} is {} but {field}[0] is {}: a range set holds one address family",
                        r.subnet,
                        family(r.subnet.addr()),
                        family(first.subnet.addr())
                    ),
                ));
            }
            all.push((path, r.clone()));
            ranges.push(r);
        }
        out.push(RangeSet { field, ranges });
    }
    if out.is_empty() {
        return Err(Error::config(
            "ipam.ranges",
            "required: at least one range set (or the legacy ipam.subnet)",
        ));
    }
    for (n, (path_b, b)) in all.iter().enumerate() {
        if let Some((path_a, a)) = all[..n].iter().find(|(_, a)| a.overlaps(b)) {
            return Err(Error::config(
                path_b.clone(),
                format!("{b} overlaps {path_a} {a}"),
            ));
        }
    }
    Ok(out)
}

fn range(raw: &RawRange, path: &str) -> Result<Range, Error> {
    let field = |name: &str| format!("{path}.{name}");
    let subnet_raw = raw
        .subnet
        .as_deref()
        .ok_or_else(|| Error::config(field("subnet"), "required"))?;
    let subnet: IpNet = subnet_raw.parse().map_err(|_| {
        Error::config(
            field("subnet"),
            format!("{subnet_raw} is not a subnet in CIDR notation"),
        )
    })?;
    if subnet.addr() != subnet.network() {
        return Err(Error::config(
            field("subnet"),
            format!(
                "{subnet_raw} has host bits set: the network is {}",
                subnet.trunc()
            ),
        ));
    }
    let max_prefix = if subnet.addr().is_ipv4() { 30 } else { 126 };
    if subnet.prefix_len() > max_prefix {
        return Err(Error::config(
            field("subnet"),
            format!("{subnet} is too small to allocate from (at most /{max_prefix})"),
        ));
    }
    let defaults = Range::defaults(subnet);
    let in_subnet =
        |name: &str, value: &Option<String>, default: IpAddr| -> Result<IpAddr, Error> {
            let Some(s) = value else { return Ok(default) };
            let ip: IpAddr = s
                .parse()
                .map_err(|_| Error::config(field(name), format!("{s} is not an IP address")))?;
            if ip.is_ipv4() != subnet.addr().is_ipv4() {
                return Err(Error::config(
                    field(name),
                    format!(
                        "{ip} is {} but subnet {subnet} is {}",
                        family(ip),
                        family(subnet.addr())
                    ),
                ));
            }
            if !subnet.contains(&ip) {
                return Err(Error::config(
                    field(name),
                    format!("{ip} is outside subnet {subnet}"),
                ));
            }
            Ok(ip)
        };
    let gateway = in_subnet("gateway", &raw.gateway, defaults.gateway)?;
    let start = in_subnet("rangeStart", &raw.range_start, defaults.start)?;
    let end = in_subnet("rangeEnd", &raw.range_end, defaults.end)?;
    if to_u128(start) > to_u128(end) {
        return Err(Error::config(
            field("rangeEnd"),
            format!("{end} is before rangeStart {start}"),
        ));
    }
    Ok(Range {
        subnet,
        start,
        end,
        gateway,
    })
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}
