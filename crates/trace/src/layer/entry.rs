//! From outside the cluster: the address a Service is reached at (a NodePort on a node, a
//! LoadBalancer address, an external IP) and `externalTrafficPolicy: Local`, which only
//! nodes with a ready local endpoint honour.

use std::collections::BTreeSet;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use podnet_k8s_model::EndpointSliceInfo;

use crate::address::Protocol;
use crate::objects::{Objects, key};
use crate::report::{Layer, LayerName};
use crate::walk::{Dest, Via, Walk};

/// `status.loadBalancer.ingress[].ip`.
pub fn load_balancer_ips(svc: &Service) -> Vec<IpAddr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

/// Each port's nodePort and protocol.
pub fn node_ports(svc: &Service) -> impl Iterator<Item = (u16, Protocol)> + '_ {
    svc.spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| {
            let np = u16::try_from(p.node_port?).ok()?;
            Some((np, Protocol::parse(p.protocol.as_deref().unwrap_or("TCP"))?))
        })
}

fn local_policy(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.external_traffic_policy.as_deref())
        == Some("Local")
}

/// The nodes with a ready endpoint of `svc`.
pub fn ready_nodes(objects: &Objects, svc: &Service) -> BTreeSet<String> {
    let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
    let name = svc.metadata.name.as_deref().unwrap_or_default();
    objects
        .slices_of(ns, name)
        .filter_map(|s| EndpointSliceInfo::from_slice(s).ok().flatten())
        .flat_map(|s| s.endpoints)
        .filter(|e| e.ready)
        .filter_map(|e| e.node_name)
        .collect()
}

/// The node that answers for a LoadBalancer or external address: one with a ready local
/// endpoint under ETP Local, else the first node (the announcer's choice is a Lease the
/// what-if does not read).
pub fn announcing_node(objects: &Objects, svc: &Service, _ip: IpAddr) -> Option<String> {
    if local_policy(svc) {
        return ready_nodes(objects, svc).into_iter().next();
    }
    objects.nodes.first().and_then(|n| n.metadata.name.clone())
}

pub fn check(walk: &Walk<'_>, dest: &Dest<'_>) -> Layer {
    let outside = walk.source.node.is_none();
    let Dest::Service { svc, via } = dest else {
        return Layer::not_applicable(LayerName::Entry, "not a Service's external address");
    };
    let name = key(&svc.metadata);
    let ready = ready_nodes(walk.objects, svc);
    let on = |nodes: &BTreeSet<String>| {
        if nodes.is_empty() {
            "none".to_owned()
        } else {
            nodes.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    match via {
        Via::ClusterIp(ip) if outside => Layer::broken(
            LayerName::Entry,
            vec![format!(
                "{ip} is {name}'s ClusterIP: only reachable inside the cluster (type {}); use a NodePort or LoadBalancer Service",
                svc.spec
                    .as_ref()
                    .and_then(|s| s.type_.as_deref())
                    .unwrap_or("ClusterIP")
            )],
        ),
        Via::ClusterIp(_) | Via::Headless => {
            Layer::not_applicable(LayerName::Entry, "inside the cluster")
        }
        Via::NodePort { node, ip } => {
            let mut ev = vec![format!("NodePort of {name} on node {node} ({ip})")];
            if local_policy(svc) {
                if !ready.contains(node) {
                    return Layer::broken(
                        LayerName::Entry,
                        vec![format!(
                            "externalTrafficPolicy Local and no ready endpoint of {name} on node {node}: it drops NodePort traffic (ready endpoints on: {})",
                            on(&ready)
                        )],
                    );
                }
                ev.push(format!(
                    "externalTrafficPolicy Local: node {node} has a ready endpoint; the client's address is kept"
                ));
            } else {
                ev.push(
                    "externalTrafficPolicy Cluster: any node forwards, the client's address masqueraded to the node's"
                        .to_owned(),
                );
            }
            Layer::ok(LayerName::Entry, ev)
        }
        Via::LoadBalancer(ip) | Via::ExternalIp(ip) => {
            let kind = if matches!(via, Via::LoadBalancer(_)) {
                "LoadBalancer address (status.loadBalancer.ingress)"
            } else {
                "external IP (spec.externalIPs: the network must route it to a node)"
            };
            let mut ev = vec![format!("{ip} is {name}'s {kind}")];
            if local_policy(svc) {
                if ready.is_empty() {
                    return Layer::broken(
                        LayerName::Entry,
                        vec![format!(
                            "externalTrafficPolicy Local and no node has a ready endpoint of {name}: no node may answer for {ip}"
                        )],
                    );
                }
                ev.push(format!(
                    "externalTrafficPolicy Local: answered only by nodes with a ready endpoint ({})",
                    on(&ready)
                ));
            } else {
                ev.push("externalTrafficPolicy Cluster: any node may answer".to_owned());
            }
            Layer::ok(LayerName::Entry, ev)
        }
    }
}
