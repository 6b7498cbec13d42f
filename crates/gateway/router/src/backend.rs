//! Where a matched request goes: a Service port, named by number or by name, with a weight
//! for HTTPRoute's traffic splitting.

use std::fmt;

/// A Service port as a route names it: Ingress allows `port.number` or `port.name`;
/// HTTPRoute's backendRefs use the number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServicePort {
    Number(u16),
    Name(String),
}

/// One Service port: the proxy looks its ready endpoints up by this key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Backend {
    pub namespace: String,
    pub service: String,
    pub port: ServicePort,
}

/// A backend as a rule refers to it. An unresolvable reference (a missing Service, a
/// cross-namespace one without a ReferenceGrant, an unsupported kind) is kept so that its
/// share of the traffic is answered 500, as Gateway API requires, rather than moved to the
/// other backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendRef {
    Service(Backend),
    Invalid,
}

/// A backend with its share of the rule's traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedBackend {
    pub backend: BackendRef,
    pub weight: u32,
}

impl fmt::Display for ServicePort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServicePort::Number(n) => write!(f, "{n}"),
            ServicePort::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.service, self.port)
    }
}

impl fmt::Display for BackendRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendRef::Service(b) => b.fmt(f),
            BackendRef::Invalid => f.write_str("(invalid)"),
        }
    }
}

/// The backend that `random` (any number, uniformly drawn) falls on when each backend gets
/// `weight / sum of weights` of the traffic; `None` when every weight is zero (the rule has
/// nowhere to send traffic: Gateway API answers 500).
pub fn pick_weighted(backends: &[WeightedBackend], random: u64) -> Option<&BackendRef> {
    let total: u64 = backends.iter().map(|b| u64::from(b.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut point = random % total;
    for b in backends {
        let w = u64::from(b.weight);
        if point < w {
            return Some(&b.backend);
        }
        point -= w;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, weight: u32) -> WeightedBackend {
        WeightedBackend {
            backend: BackendRef::Service(Backend {
                namespace: "default".into(),
                service: name.into(),
                port: ServicePort::Number(80),
            }),
            weight,
        }
    }

    fn name(b: Option<&BackendRef>) -> &str {
        match b {
            Some(BackendRef::Service(b)) => &b.service,
            Some(BackendRef::Invalid) => "invalid",
            None => "none",
        }
    }

    #[test]
    fn weights_split_the_draws_in_proportion() {
        let backends = [svc("a", 70), svc("b", 30), svc("zero", 0)];
        let mut counts = std::collections::HashMap::new();
        for r in 0..1000 {
            *counts.entry(name(pick_weighted(&backends, r))).or_insert(0) += 1;
        }
        assert_eq!(counts.get("a"), Some(&700));
        assert_eq!(counts.get("b"), Some(&300));
        assert_eq!(counts.get("zero"), None);
    }

    #[test]
    fn all_weights_zero_pick_nothing() {
        assert_eq!(pick_weighted(&[svc("a", 0), svc("b", 0)], 7), None);
        assert_eq!(pick_weighted(&[], 7), None);
    }

    #[test]
    fn an_invalid_reference_keeps_its_share() {
        let backends = [
            svc("a", 1),
            WeightedBackend {
                backend: BackendRef::Invalid,
                weight: 1,
            },
        ];
        assert_eq!(name(pick_weighted(&backends, 0)), "a");
        assert_eq!(name(pick_weighted(&backends, 1)), "invalid");
    }
}
