//! One module per layer; each returns its [`Layer`](crate::report::Layer) and what the next
//! layers need.

pub mod back;
pub mod dns;
pub mod endpoints;
pub mod entry;
pub mod policy;
pub mod proxy;
pub mod routing;

use std::net::IpAddr;

/// Where the proxy sends the packet (one per DNAT branch, or the destination itself).
#[derive(Clone, Debug)]
pub struct Target {
    pub ip: IpAddr,
    pub port: u16,
    /// The node whose rules the packet met (`None`: from outside, to no node).
    pub from_node: Option<String>,
    /// The source address the destination sees (the node's when masqueraded).
    pub seen_source: IpAddr,
    /// Masqueraded on the way out of `from_node`.
    pub masquerade: bool,
    /// The address the packet was sent to before DNAT (what the reply comes back from).
    pub original: Option<(IpAddr, u16)>,
}

/// `1/3` for a third, else the chance with two decimals.
pub fn chance(p: f64) -> String {
    if p >= 0.9999 {
        return "1".to_owned();
    }
    let n = (1.0 / p).round();
    if n > 1.0 && (1.0 / n - p).abs() < 1e-6 {
        format!("1/{n}")
    } else {
        format!("{p:.2}")
    }
}
