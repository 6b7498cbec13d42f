//! The whole route table the proxy consults: HTTPRoutes per listener port, then Ingresses.

use std::collections::BTreeMap;
use std::fmt;

use http::{HeaderMap, Method};

use crate::backend::WeightedBackend;
use crate::filter::Filter;
use crate::http_route::HttpRoutes;
use crate::ingress::IngressTable;

/// The object a route came from, for logs, metrics and status.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteId {
    /// `Ingress` or `HTTPRoute`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for RouteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// What a matched rule does: its filters in order, then its backends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub filters: Vec<Filter>,
    pub backends: Vec<WeightedBackend>,
}

/// The parts of a request routes look at.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a Method,
    /// Normalised: see [`crate::host::normalize`].
    pub host: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// A request's route.
#[derive(Clone, Copy, Debug)]
pub struct Routed<'a> {
    pub route: &'a RouteId,
    pub action: &'a Action,
    /// The PathPrefix value that matched, for prefix rewrites and redirects.
    pub prefix: Option<&'a str>,
}

/// Every route the gateway serves.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// HTTPRoutes attached to the Gateway listeners on each port.
    pub http_routes: BTreeMap<u16, HttpRoutes>,
    /// Ingresses of the gateway's class, served on every port.
    pub ingresses: IngressTable,
}

impl Table {
    /// The route of a request received on listener port `port`: an HTTPRoute attached
    /// there first, else an Ingress rule, else an Ingress default backend; `None` is 404.
    pub fn route<'t>(&'t self, port: u16, req: &Request<'_>) -> Option<Routed<'t>> {
        self.http_routes
            .get(&port)
            .and_then(|routes| routes.route(req))
            .or_else(|| self.ingresses.route(req.host, req.path))
    }
}
