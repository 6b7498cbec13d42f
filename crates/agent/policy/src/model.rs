//! The normalised policy model: pods, namespaces and NetworkPolicies as the evaluator and the
//! renderer read them, with the API's defaults already applied (policyTypes, TCP, the
//! policy's own namespace for a bare podSelector).

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::selector::{LabelSelector, Labels};

/// A transport protocol a policy port names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// Which way a rule filters: traffic into its subject pods, or out of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Ingress,
    Egress,
}

/// A pod or policy's identity: namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    pub namespace: String,
    pub name: String,
}

/// A container port a named policy port can resolve to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerPort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

/// What policy needs of a pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub id: ObjectRef,
    pub labels: Labels,
    /// `None` until the pod has an address: it can be neither matched nor filtered yet.
    pub ip: Option<IpAddr>,
    pub node: Option<String>,
    /// Host-network pods are never policy subjects (they have the node's address).
    pub host_network: bool,
    /// Only the named ones: numeric policy ports need no lookup.
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
}

/// The namespaces a pod peer looks in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespaces {
    /// A bare podSelector: the policy's own namespace.
    Own,
    Selected(LabelSelector),
}

/// An ipBlock: `cidr` minus the `except` ranges inside it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

/// One entry of `from` / `to`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    /// Pods matching `pods` in the namespaces `namespaces` selects (both selectors AND-ed).
    Pods {
        namespaces: Namespaces,
        pods: LabelSelector,
    },
    IpBlock(IpBlock),
}

/// Which destination ports of one protocol a policy port allows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortMatch {
    /// No `port`: every port of the protocol.
    Any,
    /// `port`, or `port`..=`endPort`.
    Range(u16, u16),
    /// A container port name, resolved per destination pod.
    Named(String),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    pub protocol: Protocol,
    pub port: PortMatch,
}

/// One ingress or egress rule: traffic matching any peer AND any port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// Empty: every peer (including every address outside the cluster).
    pub peers: Vec<Peer>,
    /// Empty: every port and protocol.
    pub ports: Vec<Port>,
}

/// A NetworkPolicy, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkPolicy {
    pub id: ObjectRef,
    pub subjects: LabelSelector,
    /// `None`: the policy does not apply to ingress (not in its policyTypes); `Some(vec![])`:
    /// it isolates its pods for ingress and allows nothing.
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
}

// === impl Protocol ===

impl Protocol {
    /// The API's spelling (`TCP`, `UDP`, `SCTP`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        use podnet_nft::types::proto;
        match self {
            Protocol::Tcp => proto::TCP,
            Protocol::Udp => proto::UDP,
            Protocol::Sctp => proto::SCTP,
        }
    }
}

impl Display for Protocol {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        })
    }
}

// === impl Direction ===

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl Display for Direction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// === impl ObjectRef ===

impl ObjectRef {
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl Display for ObjectRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

// === impl Pod ===

impl Pod {
    /// The address policy filters this pod by: `None` for host-network pods and pods
    /// without one.
    pub fn policy_ip(&self) -> Option<IpAddr> {
        self.ip.filter(|_| !self.host_network)
    }

    /// The number a named port resolves to on this pod for `protocol`.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name == name && p.protocol == protocol)
            .map(|p| p.port)
    }
}

// === impl IpBlock ===

impl IpBlock {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidr.contains(&ip) && !self.except.iter().any(|e| e.contains(&ip))
    }
}

// === impl Port ===

impl Port {
    /// Whether traffic to `port`/`protocol` of `dst` (when it is a pod) matches.
    pub fn matches(&self, protocol: Protocol, port: u16, dst: Option<&Pod>) -> bool {
        if self.protocol != protocol {
            return false;
        }
        match &self.port {
            PortMatch::Any => true,
            PortMatch::Range(lo, hi) => (*lo..=*hi).contains(&port),
            PortMatch::Named(name) => dst.and_then(|p| p.named_port(name, protocol)) == Some(port),
        }
    }
}

// === impl NetworkPolicy ===

impl NetworkPolicy {
    /// The rules of one direction; `None` if the policy does not apply to it.
    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}
