//! SRC and DST as the user writes them: `ns/pod`, `svc/ns/name`, a DNS name, a node's
//! name, an address; a destination may add `:PORT` and `/tcp|udp|sctp`.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use serde::Serialize;

use crate::error::{Error, Result};

/// One end of the path, before it is looked up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Spec {
    /// `ns/name`.
    Pod { namespace: String, name: String },
    /// `svc/ns/name`.
    Service { namespace: String, name: String },
    /// An address: a pod's, a ClusterIP, a node's, a LoadBalancer's or one outside.
    Ip { ip: IpAddr },
    /// A bare word or dotted name: a Node if one is called that, else a DNS name resolved
    /// as the source's resolver would.
    Name { name: String },
}

/// The destination: where, and to which port and protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub spec: Spec,
    /// `None`: the Service's only port, or an error when it has several.
    pub port: Option<u16>,
    pub protocol: Protocol,
}

/// The transport protocol traced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

// === impl Spec ===

impl Spec {
    /// Parses a source or destination without port or protocol.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::BadAddress {
            what: "address",
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse() {
            return Ok(Spec::Ip { ip });
        }
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            ["svc" | "service" | "services", ns, name] if valid(ns) && valid(name) => {
                Ok(Spec::Service {
                    namespace: (*ns).to_owned(),
                    name: (*name).to_owned(),
                })
            }
            [ns, name] if valid(ns) && valid(name) => Ok(Spec::Pod {
                namespace: (*ns).to_owned(),
                name: (*name).to_owned(),
            }),
            [name] if !name.is_empty() && name.split('.').all(|l| valid(l) || l.is_empty()) => {
                Ok(Spec::Name {
                    name: (*name).to_owned(),
                })
            }
            _ => Err(bad(
                "want NAMESPACE/POD, svc/NAMESPACE/NAME, a DNS name, a node name or an IP address",
            )),
        }
    }
}

/// A DNS label as Kubernetes names are made of (lower case is not enforced: the lookup
/// says what is missing).
fn valid(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

impl Display for Spec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            Spec::Service { namespace, name } => write!(f, "svc/{namespace}/{name}"),
            Spec::Ip { ip } => ip.fmt(f),
            Spec::Name { name } => f.write_str(name),
        }
    }
}

// === impl Destination ===

impl Destination {
    /// `DST[:PORT][/tcp|udp|sctp]`.
    pub fn parse(text: &str) -> Result<Self> {
        let (rest, protocol) = match text.rsplit_once('/') {
            Some((rest, p)) => match Protocol::parse(p) {
                Some(p) => (rest, p),
                None => (text, Protocol::Tcp),
            },
            None => (text, Protocol::Tcp),
        };
        let (host, port) = split_port(rest).map_err(|reason| Error::BadAddress {
            what: "destination",
            text: text.to_owned(),
            reason,
        })?;
        Ok(Self {
            spec: Spec::parse(host)?,
            port,
            protocol,
        })
    }
}

/// `HOST:PORT`, `[V6]:PORT`, a bare IPv6 address or a host alone.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    if text.parse::<IpAddr>().is_ok() {
        return Ok((text, None));
    }
    if let Some(v6) = text.strip_prefix('[') {
        let (addr, rest) = v6.split_once(']').ok_or("unclosed '['")?;
        return match rest.strip_prefix(':') {
            Some(p) => Ok((addr, Some(port(p)?))),
            None if rest.is_empty() => Ok((addr, None)),
            None => Err(format!("unexpected {rest:?} after the address")),
        };
    }
    match text.rsplit_once(':') {
        Some((host, p)) => Ok((host, Some(port(p)?))),
        None => Ok((text, None)),
    }
}

fn port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("port {p:?} is not a number from 1 to 65535")),
    }
}

impl Display for Destination {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (&self.spec, self.port) {
            (Spec::Ip { ip: IpAddr::V6(ip) }, Some(p)) => write!(f, "[{ip}]:{p}")?,
            (spec, Some(p)) => write!(f, "{spec}:{p}")?,
            (spec, None) => write!(f, "{spec}")?,
        }
        write!(f, "/{}", self.protocol)
    }
}

// === impl Protocol ===

impl Protocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The API's spelling (`spec.ports[].protocol`).
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }

    pub fn number(self) -> u8 {
        use podnet_nft::types::proto;
        match self {
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
            Protocol::Sctp => proto::SCTP,
        }
    }

    pub fn policy(self) -> podnet_agent_policy::Protocol {
        match self {
            Protocol::Tcp => podnet_agent_policy::Protocol::Tcp,
            Protocol::Udp => podnet_agent_policy::Protocol::Udp,
            Protocol::Sctp => podnet_agent_policy::Protocol::Sctp,
        }
    }
}

impl Display for Protocol {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dst(s: &str) -> Destination {
        Destination::parse(s).unwrap()
    }

    #[test]
    fn every_form_parses() {
        assert_eq!(
            Spec::parse("default/web-1").unwrap(),
            Spec::Pod {
                namespace: "default".into(),
                name: "web-1".into()
            }
        );
        assert_eq!(
            dst("svc/default/web:80/udp"),
            Destination {
                spec: Spec::Service {
                    namespace: "default".into(),
                    name: "web".into()
                },
                port: Some(80),
                protocol: Protocol::Udp,
            }
        );
        assert_eq!(
            dst("web.default.svc.cluster.local:8080").spec,
            Spec::Name {
                name: "web.default.svc.cluster.local".into()
            }
        );
        assert_eq!(dst("10.96.0.10:53/UDP").port, Some(53));
        assert_eq!(
            dst("[fd00::1]:443").spec,
            Spec::Ip {
                ip: "fd00::1".parse().unwrap()
            }
        );
        assert_eq!(dst("fd00::1").port, None);
        assert_eq!(
            dst("lab-worker:30080").spec,
            Spec::Name {
                name: "lab-worker".into()
            }
        );
    }

    #[test]
    fn a_bad_port_or_shape_is_explained() {
        let err = Destination::parse("svc/default/web:http").unwrap_err();
        assert!(err.to_string().contains("port \"http\""), "{err}");
        let err = Spec::parse("a/b/c/d").unwrap_err();
        assert!(err.to_string().contains("svc/NAMESPACE/NAME"), "{err}");
    }

    #[test]
    fn display_round_trips() {
        for s in ["svc/ns/web:80/TCP", "ns/pod:8080/UDP", "[fd00::1]:53/UDP"] {
            assert_eq!(dst(s).to_string(), s);
        }
    }
}
