//! The way back: the reply retraces the connection through conntrack, which reverses the
//! DNAT (the client sees the address it sent to) and the masquerade (the endpoint answered
//! the node).

use super::Target;
use crate::report::{Layer, LayerName};
use crate::walk::Walk;

pub fn check(walk: &Walk<'_>, targets: &[Target]) -> Layer {
    if targets.is_empty() {
        return Layer::not_applicable(LayerName::Return, "no destination to answer");
    }
    let src = walk.source.ip;
    let mut evidence = Vec::new();
    for t in targets {
        let mut line = format!("reply {}:{} → {}", t.ip, t.port, t.seen_source);
        if t.masquerade {
            let node = t.from_node.as_deref().unwrap_or("the node");
            line.push_str(&format!(
                " (masqueraded to node {node}'s address on the way out; conntrack restores {src})"
            ));
        }
        if let Some((ip, port)) = t.original {
            line.push_str(&format!(
                "; conntrack un-DNATs its source to {ip}:{port}, the address the client sent to"
            ));
        }
        evidence.push(line);
    }
    evidence.dedup();
    Layer::ok(LayerName::Return, evidence)
}
