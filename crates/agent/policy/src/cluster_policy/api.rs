//! The object as the API serves it (network-policy-api v0.2.0's Go types, as JSON) → the
//! normalised [`ClusterNetworkPolicy`]. The CRD's schema and CEL rules are what the API
//! server validates with; what they would have refused is an error here too, except a peer
//! with no field this version knows, which fails closed as the API asks ("treat the rule as
//! matching no traffic" for Accept, "as a 'Deny all' rule" for Deny and Pass).

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde::Deserialize;

use super::{Action, ClusterNetworkPolicy, ClusterPeer, ClusterRule, ClusterSubject, ClusterTier};
use crate::error::{Error, Result};
use crate::from_k8s::selector;
use crate::model::{Port, PortMatch, Protocol};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    tier: String,
    priority: i64,
    subject: Subject,
    #[serde(default)]
    ingress: Vec<Rule>,
    #[serde(default)]
    egress: Vec<Rule>,
}

#[derive(Deserialize)]
struct Subject {
    namespaces: Option<meta::LabelSelector>,
    pods: Option<NamespacedPod>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespacedPod {
    #[serde(default)]
    namespace_selector: meta::LabelSelector,
    #[serde(default)]
    pod_selector: meta::LabelSelector,
}

/// An ingress rule (`from`) or an egress rule (`to`): the same shape otherwise.
#[derive(Deserialize)]
struct Rule {
    #[serde(default)]
    name: String,
    action: String,
    #[serde(alias = "to", default)]
    from: Vec<PeerJson>,
    #[serde(default)]
    protocols: Vec<ProtocolJson>,
}

#[derive(Deserialize)]
struct PeerJson {
    namespaces: Option<meta::LabelSelector>,
    pods: Option<NamespacedPod>,
    nodes: Option<meta::LabelSelector>,
    networks: Option<Vec<String>>,
    #[serde(rename = "domainNames")]
    domain_names: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProtocolJson {
    tcp: Option<PortOf>,
    udp: Option<PortOf>,
    sctp: Option<PortOf>,
    destination_named_port: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PortOf {
    destination_port: Option<PortJson>,
}

#[derive(Deserialize)]
struct PortJson {
    number: Option<i64>,
    range: Option<RangeJson>,
}

#[derive(Deserialize)]
struct RangeJson {
    start: i64,
    end: i64,
}

/// A ClusterNetworkPolicy object (`metadata.name` and `spec`) in the model.
pub fn from_object(obj: &serde_json::Value) -> Result<ClusterNetworkPolicy> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let invalid = |reason: String| Error::InvalidClusterPolicy {
        name: name.clone(),
        reason,
    };
    let spec: Spec =
        serde_json::from_value(obj["spec"].clone()).map_err(|e| invalid(format!("spec: {e}")))?;
    let tier = match spec.tier.as_str() {
        "Admin" => ClusterTier::Admin,
        "Baseline" => ClusterTier::Baseline,
        other => return Err(invalid(format!("spec.tier: Unsupported value: {other:?}"))),
    };
    let priority = u32::try_from(spec.priority)
        .ok()
        .filter(|p| *p <= 1000)
        .ok_or_else(|| {
            invalid(format!(
                "spec.priority: {} is not in 0..=1000",
                spec.priority
            ))
        })?;
    let subject = match (spec.subject.namespaces, spec.subject.pods) {
        (Some(ns), None) => ClusterSubject {
            namespaces: selector(Some(&ns)).map_err(invalid)?,
            pods: Default::default(),
        },
        (None, Some(p)) => ClusterSubject {
            namespaces: selector(Some(&p.namespace_selector)).map_err(invalid)?,
            pods: selector(Some(&p.pod_selector)).map_err(invalid)?,
        },
        _ => {
            return Err(invalid(
                "spec.subject: exactly one field must be set".into(),
            ));
        }
    };
    let rules = |rules: Vec<Rule>, direction: &str| {
        rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| rule(i, r).map_err(|e| format!("spec.{direction}[{i}]: {e}")))
            .collect::<Result<Vec<_>, String>>()
            .map_err(invalid)
    };
    Ok(ClusterNetworkPolicy {
        ingress: rules(spec.ingress, "ingress")?,
        egress: rules(spec.egress, "egress")?,
        name,
        tier,
        priority,
        subject,
    })
}

fn rule(index: usize, r: Rule) -> Result<ClusterRule, String> {
    let action = match r.action.as_str() {
        "Accept" => Action::Accept,
        "Deny" => Action::Deny,
        "Pass" => Action::Pass,
        other => return Err(format!("action: Unsupported value: {other:?}")),
    };
    let mut peers = Vec::new();
    let mut fail_closed = false;
    for p in r.from {
        match peer(p)? {
            Some(p) => peers.push(p),
            None => fail_closed = true,
        }
    }
    let ports = r
        .protocols
        .into_iter()
        .map(protocol)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let name = if r.name.is_empty() {
        index.to_string()
    } else {
        r.name
    };
    if fail_closed {
        return Ok(match action {
            // The unknown peer matches nothing; the rule's other peers still do (a networks
            // peer with no CIDR stands for "nothing" when none is left).
            Action::Accept => ClusterRule {
                name,
                action,
                peers: if peers.is_empty() {
                    vec![ClusterPeer::Networks(Vec::new())]
                } else {
                    peers
                },
                ports,
            },
            Action::Deny | Action::Pass => ClusterRule {
                name,
                action: Action::Deny,
                peers: Vec::new(),
                ports: Vec::new(),
            },
        });
    }
    if peers.is_empty() {
        return Err("from/to: Required value".into());
    }
    Ok(ClusterRule {
        name,
        action,
        peers,
        ports,
    })
}

/// `None`: a peer with no field this version knows (`domainNames` included: podnet does
/// not implement it), to fail closed.
fn peer(p: PeerJson) -> Result<Option<ClusterPeer>, String> {
    let set = [
        p.namespaces.is_some(),
        p.pods.is_some(),
        p.nodes.is_some(),
        p.networks.is_some(),
        p.domain_names.is_some(),
    ];
    if set.iter().filter(|s| **s).count() > 1 {
        return Err("exactly one field of a peer must be set".into());
    }
    Ok(Some(if let Some(ns) = p.namespaces {
        ClusterPeer::Pods {
            namespaces: selector(Some(&ns))?,
            pods: Default::default(),
        }
    } else if let Some(pods) = p.pods {
        ClusterPeer::Pods {
            namespaces: selector(Some(&pods.namespace_selector))?,
            pods: selector(Some(&pods.pod_selector))?,
        }
    } else if let Some(nodes) = p.nodes {
        ClusterPeer::Nodes(selector(Some(&nodes))?)
    } else if let Some(networks) = p.networks {
        let nets = networks
            .iter()
            .map(|n| {
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| format!("networks: invalid CIDR {n:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        ClusterPeer::Networks(nets)
    } else {
        return Ok(None);
    }))
}

/// One `protocols` entry as ports of the model: a named port may be any protocol's.
fn protocol(p: ProtocolJson) -> Result<Vec<Port>, String> {
    let one = |protocol, of: PortOf| {
        let port = match of.destination_port {
            None => PortMatch::Any,
            Some(PortJson {
                number: Some(n),
                range: None,
            }) => {
                let n = port_number(n)?;
                PortMatch::Range(n, n)
            }
            Some(PortJson {
                number: None,
                range: Some(r),
            }) => {
                let (lo, hi) = (port_number(r.start)?, port_number(r.end)?);
                if lo >= hi {
                    return Err("range: start must be less than end".to_owned());
                }
                PortMatch::Range(lo, hi)
            }
            Some(_) => return Err("destinationPort: exactly one of number and range".into()),
        };
        Ok(vec![Port { protocol, port }])
    };
    match (p.tcp, p.udp, p.sctp, p.destination_named_port) {
        (Some(of), None, None, None) => one(Protocol::Tcp, of),
        (None, Some(of), None, None) => one(Protocol::Udp, of),
        (None, None, Some(of), None) => one(Protocol::Sctp, of),
        (None, None, None, Some(name)) => Ok([Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
            .into_iter()
            .map(|protocol| Port {
                protocol,
                port: PortMatch::Named(name.clone()),
            })
            .collect()),
        _ => Err("protocols: exactly one field must be set".into()),
    }
}

fn port_number(n: i64) -> Result<u16, String> {
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("port {n} is not in 1..=65535"))
}
