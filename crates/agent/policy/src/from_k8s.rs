//! Kubernetes objects → the normalised model, with the API's defaults applied: policyTypes
//! (Ingress always, Egress iff there are egress rules) when unset, TCP when a port names no
//! protocol, the policy's namespace for a bare podSelector.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::error::{Error, Result};
use crate::model::{
    ContainerPort, IpBlock, Namespace, Namespaces, NetworkPolicy, ObjectRef, Peer, Pod, Port,
    PortMatch, Protocol, Rule,
};
use crate::selector::{LabelSelector, Requirement};

/// A NetworkPolicy in the model; an error names what the API should have refused.
pub fn network_policy(np: &net::NetworkPolicy) -> Result<NetworkPolicy> {
    let id = ObjectRef::new(
        np.metadata.namespace.as_deref().unwrap_or("default"),
        np.metadata.name.as_deref().unwrap_or_default(),
    );
    let invalid = |reason: String| Error::InvalidPolicy {
        namespace: id.namespace.clone(),
        name: id.name.clone(),
        reason,
    };
    let spec = np.spec.clone().unwrap_or_default();
    let ingress_rules = spec.ingress.unwrap_or_default();
    let egress_rules = spec.egress.unwrap_or_default();
    let (ingress_on, egress_on) = match spec.policy_types.as_deref() {
        None | Some([]) => (true, !egress_rules.is_empty()),
        Some(types) => {
            if let Some(bad) = types.iter().find(|t| *t != "Ingress" && *t != "Egress") {
                return Err(invalid(format!("unsupported policyType {bad:?}")));
            }
            (
                types.iter().any(|t| t == "Ingress"),
                types.iter().any(|t| t == "Egress"),
            )
        }
    };
    let rule = |peers: Option<Vec<net::NetworkPolicyPeer>>,
                ports: Option<Vec<net::NetworkPolicyPort>>| {
        Ok::<_, String>(Rule {
            peers: peers
                .unwrap_or_default()
                .iter()
                .map(peer)
                .collect::<Result<_, _>>()?,
            ports: ports
                .unwrap_or_default()
                .iter()
                .map(port)
                .collect::<Result<_, _>>()?,
        })
    };
    let ingress = ingress_on
        .then(|| {
            ingress_rules
                .into_iter()
                .map(|r| rule(r.from, r.ports))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(invalid)?;
    let egress = egress_on
        .then(|| {
            egress_rules
                .into_iter()
                .map(|r| rule(r.to, r.ports))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(invalid)?;
    Ok(NetworkPolicy {
        subjects: selector(spec.pod_selector.as_ref()).map_err(invalid)?,
        id: id.clone(),
        ingress,
        egress,
    })
}

/// A Pod in the model.
pub fn pod(pod: &core::Pod) -> Pod {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let ports = spec
        .into_iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            Some(ContainerPort {
                name: p.name.clone()?,
                protocol: Protocol::parse(p.protocol.as_deref().unwrap_or("TCP"))?,
                port: u16::try_from(p.container_port).ok()?,
            })
        })
        .collect();
    Pod {
        id: ObjectRef::new(
            pod.metadata.namespace.as_deref().unwrap_or("default"),
            pod.metadata.name.as_deref().unwrap_or_default(),
        ),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ip: status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse::<IpAddr>().ok()),
        node: spec.and_then(|s| s.node_name.clone()),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ports,
    }
}

/// A Namespace in the model.
pub fn namespace(ns: &core::Namespace) -> Namespace {
    Namespace {
        name: ns.metadata.name.clone().unwrap_or_default(),
        labels: ns.metadata.labels.clone().unwrap_or_default(),
    }
}

pub(crate) fn selector(s: Option<&meta::LabelSelector>) -> Result<LabelSelector, String> {
    let Some(s) = s else {
        return Ok(LabelSelector::default());
    };
    let match_expressions = s
        .match_expressions
        .iter()
        .flatten()
        .map(|r| {
            Requirement::parse(&r.key, &r.operator, r.values.clone().unwrap_or_default())
                .ok_or_else(|| format!("{:?} is not a valid label selector operator", r.operator))
        })
        .collect::<Result<_, _>>()?;
    Ok(LabelSelector {
        match_labels: s.match_labels.clone().unwrap_or_default(),
        match_expressions,
    })
}

fn peer(p: &net::NetworkPolicyPeer) -> Result<Peer, String> {
    match (&p.ip_block, &p.namespace_selector, &p.pod_selector) {
        (Some(block), None, None) => {
            let cidr = cidr(&block.cidr)?;
            let except = block
                .except
                .iter()
                .flatten()
                .map(|e| cidr_in(e, &cidr))
                .collect::<Result<_, _>>()?;
            Ok(Peer::IpBlock(IpBlock { cidr, except }))
        }
        (Some(_), _, _) => Err("ipBlock may not be combined with other peer fields".into()),
        (None, None, None) => Err("a peer must specify at least one of its fields".into()),
        (None, ns, pods) => Ok(Peer::Pods {
            namespaces: match ns {
                None => Namespaces::Own,
                Some(s) => Namespaces::Selected(selector(Some(s))?),
            },
            pods: selector(pods.as_ref())?,
        }),
    }
}

fn cidr(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("invalid CIDR {s:?}"))
}

fn cidr_in(s: &str, outer: &IpNet) -> Result<IpNet, String> {
    let net = cidr(s)?;
    if outer.contains(&net) {
        Ok(net)
    } else {
        Err(format!(
            "except {s:?} must be within the ipBlock cidr {outer}"
        ))
    }
}

fn port(p: &net::NetworkPolicyPort) -> Result<Port, String> {
    let proto_name = p.protocol.as_deref().unwrap_or("TCP");
    let protocol = Protocol::parse(proto_name)
        .ok_or_else(|| format!("unsupported protocol {proto_name:?}"))?;
    let number = |n: i32| u16::try_from(n).map_err(|_| format!("invalid port {n}"));
    let port = match (&p.port, p.end_port) {
        (None, None) => PortMatch::Any,
        (None, Some(_)) => return Err("endPort may not be set without port".into()),
        (Some(IntOrString::Int(n)), end) => {
            let lo = number(*n)?;
            let hi = end.map(number).transpose()?.unwrap_or(lo);
            if hi < lo {
                return Err("endPort must be equal to or greater than port".into());
            }
            PortMatch::Range(lo, hi)
        }
        (Some(IntOrString::String(_)), Some(_)) => {
            return Err("endPort may not be set with a named port".into());
        }
        (Some(IntOrString::String(name)), None) => PortMatch::Named(name.clone()),
    };
    Ok(Port { protocol, port })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn np(spec: serde_json::Value) -> Result<NetworkPolicy> {
        let obj = json!({"metadata": {"namespace": "x", "name": "p"}, "spec": spec});
        network_policy(&serde_json::from_value(obj).unwrap())
    }

    #[test]
    fn policy_types_default_to_ingress_and_to_egress_only_with_egress_rules() {
        let p = np(json!({"podSelector": {}})).unwrap();
        assert_eq!(
            p.ingress,
            Some(vec![]),
            "isolated for ingress, nothing allowed"
        );
        assert_eq!(p.egress, None);
        let p = np(json!({"podSelector": {}, "egress": [{}]})).unwrap();
        assert_eq!(p.ingress, Some(vec![]));
        assert_eq!(p.egress, Some(vec![Rule::default()]));
        let p = np(json!({"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]})).unwrap();
        assert_eq!(
            p.ingress, None,
            "explicit policyTypes win over the rules present"
        );
        assert_eq!(p.egress, Some(vec![]));
    }

    #[test]
    fn peers_keep_the_and_of_both_selectors_and_the_own_namespace() {
        let p = np(json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
            {"podSelector": {"matchLabels": {"pod": "b"}}},
            {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "c"}}},
            {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}
        ]}]}))
        .unwrap();
        let peers = &p.ingress.unwrap()[0].peers;
        assert_eq!(
            peers[0],
            Peer::Pods {
                namespaces: Namespaces::Own,
                pods: LabelSelector::labels([("pod", "b")])
            }
        );
        assert_eq!(
            peers[1],
            Peer::Pods {
                namespaces: Namespaces::Selected(LabelSelector::labels([("ns", "y")])),
                pods: LabelSelector::labels([("pod", "c")])
            }
        );
        assert!(matches!(&peers[2], Peer::IpBlock(b) if b.except.len() == 1));
    }

    #[test]
    fn ports_default_to_tcp_and_keep_ranges_and_names() {
        let p = np(json!({"podSelector": {}, "ingress": [{"ports": [
            {"port": 80}, {"protocol": "UDP", "port": 81, "endPort": 90},
            {"protocol": "SCTP"}, {"port": "serve-80-tcp"}
        ]}]}))
        .unwrap();
        let ports: Vec<_> = p.ingress.unwrap()[0]
            .ports
            .iter()
            .map(|p| (p.protocol, p.port.clone()))
            .collect();
        assert_eq!(
            ports,
            [
                (Protocol::Tcp, PortMatch::Range(80, 80)),
                (Protocol::Udp, PortMatch::Range(81, 90)),
                (Protocol::Sctp, PortMatch::Any),
                (Protocol::Tcp, PortMatch::Named("serve-80-tcp".into())),
            ]
        );
    }

    #[test]
    fn what_the_api_refuses_is_an_error_naming_the_policy() {
        let bad = [
            json!({"ingress": [{"from": [{}]}]}),
            json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}),
            json!({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]}),
            json!({"ingress": [{"ports": [{"port": 80, "endPort": 79}]}]}),
            json!({"ingress": [{"ports": [{"protocol": "ICMP"}]}]}),
            json!({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Gt"}]}}),
        ];
        for spec in bad {
            let err = np(spec.clone()).unwrap_err().to_string();
            assert!(err.starts_with("networkpolicy x/p: "), "{spec}: {err}");
        }
    }

    #[test]
    fn pods_keep_named_ports_and_host_network() {
        let p: core::Pod = serde_json::from_value(json!({
            "metadata": {"namespace": "x", "name": "a", "labels": {"pod": "a"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [
                {"name": "serve-81-udp", "containerPort": 81, "protocol": "UDP"},
                {"containerPort": 82}
            ]}]},
            "status": {"podIP": "10.244.1.5"}
        }))
        .unwrap();
        let m = pod(&p);
        assert_eq!(m.named_port("serve-81-udp", Protocol::Udp), Some(81));
        assert_eq!(m.named_port("serve-81-udp", Protocol::Tcp), None);
        assert_eq!(m.policy_ip(), "10.244.1.5".parse().ok());
        assert!(!m.host_network);
    }
}
