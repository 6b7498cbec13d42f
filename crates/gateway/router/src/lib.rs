//! The gateway's route table, free of I/O: what a request for (host, path, method, headers,
//! query) is answered with, under Ingress v1's rules (`ingress`) and Gateway API HTTPRoute's
//! (`http_route`), with HTTPRoute's filters (`filter`) and weighted backends (`backend`).
//!
//! The controller builds a [`Table`] from the API objects; the proxy asks it [`Table::route`]
//! per request and applies what comes back. Nothing here sees a Kubernetes type.

pub mod backend;
pub mod filter;
pub mod host;
pub mod http_route;
pub mod ingress;
pub mod path;
mod table;

pub use backend::{Backend, BackendRef, ServicePort, WeightedBackend, pick_weighted};
pub use filter::{Filter, HeaderModifier, PathModifier, Redirect, Rewrite};
pub use table::{Action, Request, RouteId, Routed, Table};
