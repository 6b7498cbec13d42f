//! The Corefile, as CoreDNS reads it from the `coredns` ConfigMap: the subset of plugins that
//! matters for cluster DNS, with CoreDNS's defaults. A plugin podnet does not implement is a
//! warning naming it and its line; a bad value is an error naming the line and directive.

mod lexer;
mod plugins;
mod syntax;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use podnet_dns_records::{Name, ZoneConfig};

use crate::error::{Error, Result};

pub use plugins::parse_duration;

/// A parsed Corefile and what was ignored in it.
#[derive(Clone, Debug, PartialEq)]
pub struct Corefile {
    pub servers: Vec<ServerBlock>,
    /// "line N: …" for every plugin or option that is accepted but not acted on.
    pub warnings: Vec<String>,
}

/// One server block: the zones it serves on a port, and its plugins.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerBlock {
    pub line: usize,
    pub zones: Vec<Name>,
    pub port: u16,
    /// `bind`: the addresses to listen on (empty: all).
    pub bind: Vec<IpAddr>,
    pub kubernetes: Option<Kubernetes>,
    pub forward: Option<Forward>,
    pub cache: Option<Cache>,
    pub health: Option<Health>,
    pub ready: Option<SocketAddr>,
    pub prometheus: Option<SocketAddr>,
    pub log: bool,
    pub errors: bool,
    /// `reload`: how often the Corefile is checked for changes.
    pub reload: Option<Duration>,
    /// `loop`: refuse to start when queries come back to this server.
    pub loop_detect: bool,
    /// `loadbalance`: rotate the order of address records.
    pub loadbalance: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Kubernetes {
    pub zone: ZoneConfig,
    pub kubeconfig: Option<(PathBuf, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// The zone forwarded (`.` for everything).
    pub from: Name,
    pub to: Vec<SocketAddr>,
    /// `except`: names under these zones are not forwarded.
    pub except: Vec<Name>,
    pub force_tcp: bool,
    pub max_concurrent: usize,
    pub policy: Policy,
    /// How long one upstream gets before the next is tried.
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Random,
    RoundRobin,
    Sequential,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    /// Zones cached (empty: all the block serves).
    pub zones: Vec<Name>,
    pub success: CacheClass,
    pub denial: CacheClass,
    pub prefetch: Option<Prefetch>,
    /// `disable success|denial ZONES…`.
    pub disable_success: Vec<Name>,
    pub disable_denial: Vec<Name>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheClass {
    pub capacity: usize,
    pub max_ttl: u32,
    pub min_ttl: u32,
}

/// `prefetch AMOUNT [DURATION] [PERCENTAGE%]`: an entry asked for `amount` times within
/// `window` is refreshed when only `percentage` of its TTL is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefetch {
    pub amount: u32,
    pub window: Duration,
    pub percentage: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    pub addr: SocketAddr,
    pub lameduck: Duration,
}

/// The Corefile a kubeadm cluster starts with (and what `podnet dns` uses without one),
/// with a prefetching cache.
pub const DEFAULT_COREFILE: &str = r#".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       prefetch 10 1m 10%
    }
    loop
    reload
    loadbalance
}
"#;

impl Corefile {
    /// Parses a Corefile; `default_port` is the port of blocks that name none (53, or the
    /// `--port` given).
    pub fn parse(text: &str, default_port: u16) -> Result<Self> {
        let tokens = lexer::tokens(text)?;
        let blocks = syntax::blocks(&tokens)?;
        let mut warnings = Vec::new();
        let mut servers = Vec::new();
        for b in &blocks {
            servers.push(plugins::server_block(b, default_port, &mut warnings)?);
        }
        if servers.is_empty() {
            return Err(Error::Corefile {
                line: 1,
                directive: "Corefile".into(),
                reason: "no server block".into(),
            });
        }
        let kube = servers.iter().filter(|s| s.kubernetes.is_some()).count();
        if kube > 1 {
            let line = servers
                .iter()
                .filter(|s| s.kubernetes.is_some())
                .nth(1)
                .map_or(1, |s| s.line);
            return Err(Error::Corefile {
                line,
                directive: "kubernetes".into(),
                reason: "only one server block may use the kubernetes plugin".into(),
            });
        }
        Ok(Corefile { servers, warnings })
    }

    /// The `kubernetes` plugin's settings, if any block has it.
    pub fn kubernetes(&self) -> Option<&Kubernetes> {
        self.servers.iter().find_map(|s| s.kubernetes.as_ref())
    }

    /// Listening addresses (DNS, health, ready, metrics): a change to these needs new sockets.
    pub fn listeners(&self) -> Vec<(String, SocketAddr)> {
        let mut out = Vec::new();
        for s in &self.servers {
            for a in s.dns_addrs() {
                out.push(("dns".to_owned(), a));
            }
            if let Some(h) = s.health {
                out.push(("health".to_owned(), h.addr));
            }
            if let Some(r) = s.ready {
                out.push(("ready".to_owned(), r));
            }
            if let Some(p) = s.prometheus {
                out.push(("metrics".to_owned(), p));
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl ServerBlock {
    pub fn dns_addrs(&self) -> Vec<SocketAddr> {
        if self.bind.is_empty() {
            vec![SocketAddr::new(IpAddr::from([0u8; 4]), self.port)]
        } else {
            self.bind
                .iter()
                .map(|ip| SocketAddr::new(*ip, self.port))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests;
