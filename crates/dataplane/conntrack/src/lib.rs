//! conntrack entries deleted by filter, inside a network namespace, with the `conntrack`
//! tool: the kernel side of the service proxy's UDP clean-up (see the README).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const CONNTRACK: &str = "conntrack";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("network namespace {netns}: running conntrack: {source}")]
    Spawn {
        netns: String,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {netns}: conntrack {filter} failed: {stderr}")]
    Failed {
        netns: String,
        filter: String,
        stderr: String,
    },
    #[error(transparent)]
    Netns(#[from] podnet_netns::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which entries to delete (all of one L4 protocol, `proto` as conntrack spells it: `udp`,
/// `sctp`…). The four shapes kube-proxy uses.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Filter {
    /// Entries whose original destination is `ip` (optionally only port `port`): a Service
    /// address that just got its first endpoint.
    ToAddr {
        proto: &'static str,
        ip: IpAddr,
        port: Option<u16>,
    },
    /// Entries to any local address on `port`: a NodePort that just got its first endpoint.
    ToPort { proto: &'static str, port: u16 },
    /// Entries to `service_ip` that were DNATed to `endpoint_ip`: an endpoint gone.
    Nat {
        proto: &'static str,
        service_ip: IpAddr,
        endpoint_ip: IpAddr,
    },
    /// Entries to NodePort `port` that were DNATed to `endpoint_ip`.
    PortNat {
        proto: &'static str,
        port: u16,
        endpoint_ip: IpAddr,
    },
}

/// conntrack in one network namespace (`None`: the caller's own).
#[derive(Clone, Debug, Default)]
pub struct Conntrack {
    netns: Option<PathBuf>,
}

// === impl Filter ===

impl Filter {
    fn args(&self) -> Vec<String> {
        let mut a = vec!["-D".to_owned()];
        let mut push = |k: &str, v: String| {
            a.push(k.to_owned());
            a.push(v);
        };
        match self {
            Filter::ToAddr { proto, ip, port } => {
                push("-p", (*proto).to_owned());
                push("--orig-dst", ip.to_string());
                if let Some(p) = port {
                    push("--orig-port-dst", p.to_string());
                }
                push("-f", family(*ip).to_owned());
            }
            Filter::ToPort { proto, port } => {
                push("-p", (*proto).to_owned());
                push("--orig-port-dst", port.to_string());
            }
            Filter::Nat {
                proto,
                service_ip,
                endpoint_ip,
            } => {
                push("-p", (*proto).to_owned());
                push("--orig-dst", service_ip.to_string());
                push("--dst-nat", endpoint_ip.to_string());
                push("-f", family(*endpoint_ip).to_owned());
            }
            Filter::PortNat {
                proto,
                port,
                endpoint_ip,
            } => {
                push("-p", (*proto).to_owned());
                push("--orig-port-dst", port.to_string());
                push("--dst-nat", endpoint_ip.to_string());
                push("-f", family(*endpoint_ip).to_owned());
            }
        }
        a
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.args().join(" "))
    }
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "ipv4" } else { "ipv6" }
}

// === impl Conntrack ===

impl Conntrack {
    pub fn new(netns: Option<&Path>) -> Self {
        Self {
            netns: netns.map(Path::to_owned),
        }
    }

    /// Deletes the entries matching `filter`; returns how many there were. No matching
    /// entry is not an error.
    pub fn delete(&self, filter: &Filter) -> Result<u64> {
        let args = filter.args();
        let argv: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let out = podnet_netns::output(self.netns.as_deref(), CONNTRACK, &argv, b"")?.map_err(
            |source| Error::Spawn {
                netns: self.label(),
                source,
            },
        )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "N flow entries have been deleted." — conntrack exits 1 when N is 0.
        let deleted = stderr.lines().find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.windows(2).position(|w| w == ["flow", "entries"])?;
            l.contains("deleted")
                .then(|| at.checked_sub(1).and_then(|i| words[i].parse::<u64>().ok()))
                .flatten()
        });
        match deleted {
            Some(n) => {
                tracing::debug!(netns = %self.label(), %filter, deleted = n, "conntrack entries deleted");
                Ok(n)
            }
            None if out.status.success() => Ok(0),
            None => Err(Error::Failed {
                netns: self.label(),
                filter: filter.to_string(),
                stderr: stderr.trim().to_owned(),
            }),
        }
    }

    fn label(&self) -> String {
        self.netns
            .as_ref()
            .map_or_else(|| "(own)".to_owned(), |p| p.display().to_string())
    }
}
