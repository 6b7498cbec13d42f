//! Ingress v1 routing as the API defines it: a rule's host exactly or by a one-label
//! wildcard, paths Exact or Prefix (element-wise; ImplementationSpecific is read as
//! Prefix by the controller), the longest matching path winning and Exact beating Prefix on
//! a tie; requests no rule matches go to a `defaultBackend`, else 404.
//!
//! Across Ingresses the rules merge, as controllers do: a rule with an exact host is
//! preferred to a wildcard one, and that to a rule without a host, before path length is
//! compared; on a full tie the oldest Ingress (then namespace/name) wins, as does its
//! default backend.

use crate::backend::{Backend, BackendRef, WeightedBackend};
use crate::host::IngressHost;
use crate::path::PathMatch;
use crate::table::{Action, RouteId, Routed};

/// One Ingress, normalised by the controller.
#[derive(Clone, Debug)]
pub struct Ingress {
    pub id: RouteId,
    /// creationTimestamp, seconds: the older Ingress wins a tie.
    pub created: i64,
    pub rules: Vec<IngressRule>,
    pub default_backend: Option<Backend>,
}

#[derive(Clone, Debug)]
pub struct IngressRule {
    pub host: IngressHost,
    pub paths: Vec<(PathMatch, Backend)>,
}

#[derive(Clone, Debug)]
struct Entry {
    id: RouteId,
    host: IngressHost,
    path: PathMatch,
    action: Action,
}

/// Every Ingress rule of the gateway's class, merged.
#[derive(Clone, Debug, Default)]
pub struct IngressTable {
    /// In precedence order of their Ingress (oldest first).
    entries: Vec<Entry>,
    default: Option<(RouteId, Action)>,
}

fn action(backend: &Backend) -> Action {
    Action {
        filters: Vec::new(),
        backends: vec![WeightedBackend {
            backend: BackendRef::Service(backend.clone()),
            weight: 1,
        }],
    }
}

impl IngressTable {
    pub fn new(mut ingresses: Vec<Ingress>) -> Self {
        ingresses.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let mut table = IngressTable::default();
        for ing in &ingresses {
            for rule in &ing.rules {
                for (path, backend) in &rule.paths {
                    table.entries.push(Entry {
                        id: ing.id.clone(),
                        host: rule.host.clone(),
                        path: path.clone(),
                        action: action(backend),
                    });
                }
            }
            if table.default.is_none()
                && let Some(b) = &ing.default_backend
            {
                table.default = Some((ing.id.clone(), action(b)));
            }
        }
        table
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.default.is_none()
    }

    /// The route for a request's normalised host and path.
    pub fn route(&self, host: &str, path: &str) -> Option<Routed<'_>> {
        let best = self
            .entries
            .iter()
            .filter(|e| e.host.matches(host) && e.path.matches(path))
            // max_by_key keeps the last of equals: reverse so the oldest Ingress wins.
            .rev()
            .max_by_key(|e| (e.host.rank(), e.path.value_len(), e.path.is_exact()));
        match best {
            Some(e) => Some(Routed {
                route: &e.id,
                action: &e.action,
                prefix: match &e.path {
                    PathMatch::Prefix(p) => Some(p),
                    PathMatch::Exact(_) => None,
                },
            }),
            None => self.default.as_ref().map(|(id, action)| Routed {
                route: id,
                action,
                prefix: None,
            }),
        }
    }
}
