//! Shared by the policy tests: policies from the API's JSON, and the evaluator's truth table.

#![allow(dead_code)]

use podnet_agent_policy::fixture::{Reachability, ip_of};
use podnet_agent_policy::{Cluster, Flow, NetworkPolicy, Protocol, evaluate, from_k8s};
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
