//! Gateway API HTTPRoute matching with the spec's precedence. Across every rule of every
//! route attached to a listener, the match that wins has the most characters in a matching
//! non-wildcard hostname, then in a matching hostname, then an Exact path over a prefix,
//! the longest path, a method match, the most header matches, the most query matches; on a
//! tie the oldest route wins, then the first by namespace/name, then the route's first
//! matching rule.

use http::HeaderName;

use crate::host::{gateway_matches, gateway_rank};
use crate::path::PathMatch;
use crate::table::{Action, Request, RouteId, Routed};

/// An HTTPRoute as attached to one listener port, normalised by the controller.
#[derive(Clone, Debug)]
pub struct HttpRoute {
    pub id: RouteId,
    /// creationTimestamp, seconds.
    pub created: i64,
    /// The route's hostnames intersected with its listeners'; empty: any host.
    pub hostnames: Vec<String>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    /// Any one of them selects the rule (a rule without matches gets a `/` prefix match).
    pub matches: Vec<Match>,
    pub action: Action,
}

/// All of its conditions must hold.
#[derive(Clone, Debug)]
pub struct Match {
    pub path: PathMatch,
    pub method: Option<http::Method>,
    /// Exact value matches; names are case-insensitive.
    pub headers: Vec<(HeaderName, String)>,
    /// Exact value matches; names are case-sensitive.
    pub query: Vec<(String, String)>,
}

impl Match {
    /// The match of a rule that lists none: every request.
    pub fn any() -> Self {
        Match {
            path: PathMatch::Prefix("/".into()),
            method: None,
            headers: Vec::new(),
            query: Vec::new(),
        }
    }

    pub fn matches(&self, req: &Request<'_>) -> bool {
        self.path.matches(req.path)
            && self.method.as_ref().is_none_or(|m| m == req.method)
            && self.headers.iter().all(|(name, value)| {
                req.headers
                    .get_all(name)
                    .iter()
                    .any(|v| v.as_bytes() == value.as_bytes())
            })
            && self
                .query
                .iter()
                .all(|(name, value)| query_value(req.query, name) == Some(value.as_str()))
    }

    fn precedence(&self) -> (bool, usize, bool, usize, usize) {
        (
            self.path.is_exact(),
            self.path.value_len(),
            self.method.is_some(),
            self.headers.len(),
            self.query.len(),
        )
    }
}

/// The first value of a query parameter (`a=1&b=2`); the spec leaves repeated names to
/// the implementation.
fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The HTTPRoutes of one listener port, in tie-break order.
#[derive(Clone, Debug, Default)]
pub struct HttpRoutes {
    routes: Vec<HttpRoute>,
}

impl HttpRoutes {
    pub fn new(mut routes: Vec<HttpRoute>) -> Self {
        routes.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        HttpRoutes { routes }
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn route(&self, req: &Request<'_>) -> Option<Routed<'_>> {
        let mut best: Option<(_, Routed<'_>)> = None;
        for route in &self.routes {
            let Some(host_rank) = host_rank(&route.hostnames, req.host) else {
                continue;
            };
            for rule in &route.rules {
                for m in &rule.matches {
                    if !m.matches(req) {
                        continue;
                    }
                    let key = (host_rank, m.precedence());
                    // Strictly better only: earlier routes, rules and matches win ties.
                    if best.as_ref().is_none_or(|(k, _)| key > *k) {
                        let prefix = match &m.path {
                            PathMatch::Prefix(p) => Some(p.as_str()),
                            PathMatch::Exact(_) => None,
                        };
                        best = Some((
                            key,
                            Routed {
                                route: &route.id,
                                action: &rule.action,
                                prefix,
                            },
                        ));
                    }
                }
            }
        }
        best.map(|(_, routed)| routed)
    }
}

/// The best rank among a route's hostnames that match `host`; `None` if none does.
fn host_rank(hostnames: &[String], host: &str) -> Option<(usize, usize)> {
    if hostnames.is_empty() {
        return Some(gateway_rank(None));
    }
    hostnames
        .iter()
        .filter(|h| gateway_matches(h, host))
        .map(|h| gateway_rank(Some(h)))
        .max()
}
