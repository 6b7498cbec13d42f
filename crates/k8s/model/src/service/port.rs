//! One port of a Service and the name kube-proxy gives it.

use std::fmt;
use std::str::FromStr;

use k8s_openapi::api::core::v1::ServicePort as KubeServicePort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ServiceName;
use crate::error::{Error, Result};

/// An L4 protocol of a Service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// What a Service port forwards to on each endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPort {
    Number(u16),
    /// A container port name: each endpoint may resolve it to a different number, which the
    /// EndpointSlice carries (slice ports are named after the Service port).
    Name(String),
}

/// One entry of `spec.ports`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    /// `name` (empty when the Service has a single unnamed port).
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
    pub node_port: Option<u16>,
    pub target_port: TargetPort,
}

/// `namespace/name:port` plus the protocol: the identity of one service port, as
/// kube-proxy's `ServicePortName`. Displayed as kube-proxy prints it (`ns/svc:http`, or
/// `ns/svc` for an unnamed port), which is what rule comments say.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServicePortName {
    pub service: ServiceName,
    pub port: String,
    pub protocol: Protocol,
}

// === impl Protocol ===

impl Protocol {
    /// Lower case, as nftables and conntrack spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// As the Kubernetes API spells it.
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl FromStr for Protocol {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

// === impl ServicePort ===

impl ServicePort {
    pub(super) fn from_port(
        p: &KubeServicePort,
        at: &str,
        bad: &dyn Fn(String, &str, &'static str) -> Error,
    ) -> Result<Self> {
        let protocol = parse_protocol(p.protocol.as_deref(), &format!("{at}.protocol"), bad)?;
        let port = port_number(p.port)
            .ok_or_else(|| bad(format!("{at}.port"), &p.port.to_string(), "a port number"))?;
        let node_port =
            match p.node_port {
                None | Some(0) => None,
                Some(n) => Some(port_number(n).ok_or_else(|| {
                    bad(format!("{at}.nodePort"), &n.to_string(), "a port number")
                })?),
            };
        let target_port =
            match &p.target_port {
                None => TargetPort::Number(port),
                Some(IntOrString::Int(n)) => {
                    TargetPort::Number(port_number(*n).ok_or_else(|| {
                        bad(format!("{at}.targetPort"), &n.to_string(), "a port number")
                    })?)
                }
                Some(IntOrString::String(s)) => match s.parse::<i32>() {
                    Ok(n) => TargetPort::Number(port_number(n).ok_or_else(|| {
                        bad(format!("{at}.targetPort"), s, "a port number or name")
                    })?),
                    Err(_) if !s.is_empty() => TargetPort::Name(s.clone()),
                    Err(_) => {
                        return Err(bad(format!("{at}.targetPort"), s, "a port number or name"));
                    }
                },
            };
        Ok(Self {
            name: p.name.clone().unwrap_or_default(),
            protocol,
            port,
            node_port,
            target_port,
        })
    }
}

/// `TCP` when absent, as the API server defaults it.
pub(crate) fn parse_protocol(
    v: Option<&str>,
    field: &str,
    bad: &dyn Fn(String, &str, &'static str) -> Error,
) -> Result<Protocol> {
    let v = v.unwrap_or("TCP");
    v.parse()
        .map_err(|()| bad(field.to_owned(), v, "TCP, UDP or SCTP"))
}

pub(crate) fn port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p != 0)
}

// === impl ServicePortName ===

impl ServicePortName {
    pub fn new(namespace: &str, name: &str, port: &str, protocol: Protocol) -> Self {
        Self {
            service: ServiceName::new(namespace, name),
            port: port.to_owned(),
            protocol,
        }
    }
}

impl fmt::Display for ServicePortName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port.is_empty() {
            write!(f, "{}", self.service)
        } else {
            write!(f, "{}:{}", self.service, self.port)
        }
    }
}
