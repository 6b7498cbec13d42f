//! Shared by the policy tests: policies from the API's JSON, and the evaluator's truth table.

#![allow(dead_code)]

use std::net::IpAddr;

use podnet_agent_policy::fixture::{Reachability, ip_of};
use podnet_agent_policy::model::Pod;
use podnet_agent_policy::{Cluster, Flow, NetworkPolicy, Protocol, evaluate, from_k8s};
use podnet_nft::object::{Hook, Table};
use podnet_nft::trace::{Fate, Packet, trace};
use podnet_nft::{Executor, Fake, diff};
use serde_json::Value;

/// A NetworkPolicy `name` in `ns` with `spec`, normalised.
pub fn policy(ns: &str, name: &str, spec: Value) -> NetworkPolicy {
    let obj = serde_json::json!({"metadata": {"namespace": ns, "name": name}, "spec": spec});
    from_k8s::network_policy(&serde_json::from_value(obj).unwrap()).unwrap()
}

/// The evaluator's answer for pod `from` ("x/a") to pod `to` on `port`/`protocol`.
pub fn allowed(c: &Cluster, from: &str, to: &str, protocol: Protocol, port: u16) -> bool {
    let ip = |id: &str| {
        let (ns, name) = id.split_once('/').unwrap();
        ip_of(c, ns, name)
    };
    from == to
        || evaluate(
            c,
            &Flow {
                src: ip(from),
                dst: ip(to),
                protocol,
                port,
            },
        )
        .allowed()
}

/// Panics with both matrices if the evaluator disagrees with `expected`.
pub fn check(c: &Cluster, expected: &Reachability, protocol: Protocol, port: u16) {
    if let Err(diff) = expected.compare(|f, t| allowed(c, f, t, protocol, port)) {
        panic!("{protocol}/{port}:\n{diff}");
    }
}

pub fn is(id: &'static str) -> impl Fn(&str) -> bool {
    move |p| p == id
}

pub fn in_ns(ns: &'static str) -> impl Fn(&str) -> bool {
    move |p| p.starts_with(&format!("{ns}/"))
}

pub fn any(_: &str) -> bool {
    true
}

/// Applies `table` to a fresh validating fake and returns what it holds.
pub fn through_fake(table: &Table) -> Table {
    let mut fake = Fake::new();
    fake.execute(&diff(None, table))
        .expect("the fake accepts the rendering");
    fake.table(&table.id).expect("applied")
}

/// Does the kernel (as the tracer reads each node's rendered table) let `flow`'s first
/// packet pass on every node on its path (the source's, then the destination's)?
pub fn traced(tables: &[(String, Table)], c: &Cluster, flow: &Flow) -> bool {
    let node_of = |ip: IpAddr| -> Option<&str> {
        c.pods
            .values()
            .find(|p: &&Pod| p.policy_ip() == Some(ip))
            .and_then(|p| p.node.as_deref())
    };
    let mut path: Vec<&str> = Vec::new();
    for n in [node_of(flow.src), node_of(flow.dst)].into_iter().flatten() {
        if !path.contains(&n) {
            path.push(n);
        }
    }
    let packet = Packet::new(flow.protocol.number(), flow.src, 40000, flow.dst, flow.port);
    path.iter().all(|node| {
        let t = &tables.iter().find(|(n, _)| n == node).unwrap().1;
        trace(&[t], Hook::Forward, &packet)
            .iter()
            .all(|o| o.fate == Fate::Accept)
    })
}
