//! NetworkPolicy at both ends, decided by the policy crate's evaluator (the same answer the
//! agent's `table inet podnet-policy` gives): which policy isolates each end and which rule,
//! if any, allows the connection.

use std::net::IpAddr;

use podnet_agent_policy::{Cluster, Decision, Direction, Flow, Verdict, evaluate, from_k8s};

use super::Target;
use crate::address::Protocol;
use crate::objects::Objects;
use crate::report::{Layer, LayerName};
use crate::walk::Walk;

/// Pods, namespaces, policies and node addresses as the evaluator takes them.
pub fn cluster(objects: &Objects) -> Cluster {
    let mut c = Cluster::default();
    for p in &objects.pods {
        c.add_pod(from_k8s::pod(p));
    }
    for n in &objects.namespaces {
        c.add_namespace(from_k8s::namespace(n));
    }
    for np in &objects.policies {
        // One the API should have refused is left out, as the agent leaves it out.
        if let Ok(p) = from_k8s::network_policy(np) {
            c.add_policy(p);
        }
    }
    c.nodes = objects.node_addresses();
    c
}

/// The decision for one connection and its explanation; `Err` lines when denied.
pub fn decide(
    cluster: &Cluster,
    src: IpAddr,
    dst: IpAddr,
    protocol: Protocol,
    port: u16,
) -> Result<Vec<String>, Vec<String>> {
    let flow = Flow {
        src,
        dst,
        protocol: protocol.policy(),
        port,
    };
    let Decision { egress, ingress } = evaluate(cluster, &flow);
    let name = |ip: IpAddr| match cluster.pod_by_ip(ip) {
        Some(p) => format!("{}/{}", p.id.namespace, p.id.name),
        None => ip.to_string(),
    };
    let what = format!("{} → {}:{port}/{protocol}", name(src), name(dst));
    let mut ok = Vec::new();
    let mut denied = Vec::new();
    for (direction, subject, verdict) in [
        (Direction::Egress, src, egress),
        (Direction::Ingress, dst, ingress),
    ] {
        let dir = match direction {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
        };
        match verdict {
            Verdict::NotIsolated => ok.push(match cluster.pod_by_ip(subject) {
                Some(_) => format!("{dir}: no policy selects {} for {dir}", name(subject)),
                None => format!("{dir}: {} is not a pod (no policy applies)", name(subject)),
            }),
            Verdict::OwnNode => ok.push(format!(
                "{dir}: from {}'s own node (always allowed)",
                name(subject)
            )),
            Verdict::Allowed(by) => ok.push(format!("{dir}: allowed by {by} for {what}")),
            Verdict::DeniedBy(by) => denied.push(format!(
                "denied: {by} denies {what} for pod {}",
                name(subject)
            )),
            Verdict::Denied { isolated_by } => {
                let by = isolated_by
                    .iter()
                    .map(|p| format!("{}/{}", p.namespace, p.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                denied.push(format!(
                    "denied: pod {} is selected by policy {by} ({dir}) and no policy allows {what}",
                    name(subject)
                ));
            }
        }
    }
    if denied.is_empty() {
        Ok(ok)
    } else {
        denied.extend(ok);
        Err(denied)
    }
}

pub fn check(walk: &Walk<'_>, targets: &[Target]) -> Layer {
    if targets.is_empty() {
        return Layer::not_applicable(LayerName::Policy, "no destination to decide for");
    }
    let cluster = cluster(walk.objects);
    let mut evidence = Vec::new();
    let mut denied = Vec::new();
    let mut denied_targets = 0;
    for t in targets {
        match decide(&cluster, t.seen_source, t.ip, walk.protocol, t.port) {
            Ok(lines) => evidence.extend(lines),
            Err(lines) => {
                denied_targets += 1;
                denied.extend(lines);
            }
        }
    }
    evidence.dedup();
    denied.dedup();
    if denied.is_empty() {
        return Layer::ok(LayerName::Policy, evidence);
    }
    denied.push(format!(
        "denied for {denied_targets} of {} destination(s)",
        targets.len()
    ));
    Layer::broken(LayerName::Policy, denied)
}
