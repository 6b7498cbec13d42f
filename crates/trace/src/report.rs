//! What a trace says: the layers in the order a packet meets them, each with its verdict and
//! the evidence for it; printed top to bottom like the debugging workflow, or as JSON.

use std::fmt::{self, Display, Formatter};

use serde::Serialize;

/// The layers a path can cross, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerName {
    /// The destination's name resolved by the source's resolver.
    Dns,
    /// From outside: the address answered on the node network, the node's traffic policy.
    Entry,
    /// Service → EndpointSlices: selector, readiness, ports.
    Endpoints,
    /// The source node's service proxy rules (traced through the rendered table).
    Proxy,
    /// NetworkPolicy at both ends.
    Policy,
    /// From the source node to the destination's.
    Routing,
    /// The reply: conntrack's reverse NAT, masquerade.
    Return,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    Broken,
    NotApplicable,
}

/// One layer's answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    pub layer: LayerName,
    pub verdict: Verdict,
    /// One line each, the deciding one first when broken.
    pub evidence: Vec<String>,
}

/// A whole trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub source: String,
    pub destination: String,
    pub mode: &'static str,
    pub layers: Vec<Layer>,
}

// === impl LayerName ===

impl LayerName {
    pub fn title(self) -> &'static str {
        match self {
            LayerName::Dns => "DNS",
            LayerName::Entry => "entry (NodePort / LoadBalancer)",
            LayerName::Endpoints => "Service → EndpointSlices",
            LayerName::Proxy => "service proxy rules",
            LayerName::Policy => "NetworkPolicy",
            LayerName::Routing => "routing",
            LayerName::Return => "the way back",
        }
    }
}

impl Display for LayerName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).expect("a unit variant serializes");
        f.write_str(s.as_str().expect("as a string"))
    }
}

// === impl Layer ===

impl Layer {
    pub fn ok(layer: LayerName, evidence: Vec<String>) -> Self {
        Self {
            layer,
            verdict: Verdict::Ok,
            evidence,
        }
    }

    pub fn broken(layer: LayerName, evidence: Vec<String>) -> Self {
        Self {
            layer,
            verdict: Verdict::Broken,
            evidence,
        }
    }

    pub fn not_applicable(layer: LayerName, why: impl Into<String>) -> Self {
        Self {
            layer,
            verdict: Verdict::NotApplicable,
            evidence: vec![why.into()],
        }
    }
}

// === impl Report ===

impl Report {
    /// The first broken layer, if any.
    pub fn broken(&self) -> Option<&Layer> {
        self.layers.iter().find(|l| l.verdict == Verdict::Broken)
    }

    pub fn layer(&self, name: LayerName) -> Option<&Layer> {
        self.layers.iter().find(|l| l.layer == name)
    }
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "trace {} → {} ({})",
            self.source, self.destination, self.mode
        )?;
        for (i, l) in self.layers.iter().enumerate() {
            let verdict = match l.verdict {
                Verdict::Ok => "ok",
                Verdict::Broken => "BROKEN",
                Verdict::NotApplicable => "n/a",
            };
            writeln!(f, "{:>2}. {:<32} {verdict}", i + 1, l.layer.title())?;
            for e in &l.evidence {
                writeln!(f, "      {e}")?;
            }
        }
        match self.broken() {
            Some(l) => write!(
                f,
                "BROKEN at {} ({}): {}",
                l.layer.title(),
                l.layer,
                l.evidence.first().map(String::as_str).unwrap_or_default()
            ),
            None => write!(f, "ok: every layer passes"),
        }
    }
}
