//! HTTPRoute rules into the router's rules, with references resolved.

use std::collections::BTreeSet;

use http::{HeaderName, HeaderValue, Method};
use podnet_gateway_router::filter::{Filter, HeaderModifier, PathModifier, Redirect, Rewrite};
use podnet_gateway_router::http_route::{Match, Rule};
use podnet_gateway_router::path::PathMatch;
use podnet_gateway_router::{Action, Backend, BackendRef, ServicePort, WeightedBackend};

use super::GROUP;
use super::types::{self, HttpRouteSpec, Object, ReferenceGrantSpec};
use crate::objects::Objects;

/// Why references did not resolve: (reason, message) of ResolvedRefs=False.
pub(super) type Unresolved = (&'static str, String);

/// Listeners this gateway serves routes on: HTTP on 80, HTTPS on 443 (the proxy's ports).
pub(super) fn listener_supported(l: &types::Listener) -> bool {
    matches!((l.protocol.as_str(), l.port), ("HTTP", 80) | ("HTTPS", 443))
}

/// Whether a ReferenceGrant in the target's namespace lets `from_kind` objects of
/// `from_ns` refer to `to_kind` `to_name` there.
pub(super) fn granted(
    grants: &[Object<ReferenceGrantSpec>],
    from_kind: &str,
    from_ns: &str,
    to_group: &str,
    to_kind: &str,
    to_ns: &str,
    to_name: &str,
) -> bool {
    grants
        .iter()
        .filter(|g| g.metadata.namespace == to_ns)
        .any(|g| {
            g.spec
                .from
                .iter()
                .any(|f| f.group == GROUP && f.kind == from_kind && f.namespace == from_ns)
                && g.spec.to.iter().any(|t| {
                    t.group == to_group
                        && t.kind == to_kind
                        && t.name.as_deref().is_none_or(|n| n == to_name)
                })
        })
}

/// The rules of a route; the first unresolved reference decides ResolvedRefs.
pub(super) fn rules(
    route: &Object<HttpRouteSpec>,
    objects: &Objects,
    grants: &[Object<ReferenceGrantSpec>],
    backends: &mut BTreeSet<Backend>,
) -> (Vec<Rule>, Result<(), Unresolved>) {
    let mut resolved = Ok(());
    let mut note = |r: Result<(), Unresolved>| {
        if resolved.is_ok() {
            resolved = r;
        }
    };
    let mut out = Vec::new();
    for rule in &route.spec.rules {
        let matches = if rule.matches.is_empty() {
            vec![Match::any()]
        } else {
            match rule
                .matches
                .iter()
                .map(convert_match)
                .collect::<Option<Vec<_>>>()
            {
                Some(m) => m,
                None => {
                    note(Err((
                        "UnsupportedValue",
                        "a match uses a type podnet does not support (RegularExpression)".into(),
                    )));
                    continue;
                }
            }
        };
        let mut filters = Vec::new();
        for f in &rule.filters {
            match convert_filter(f, route, objects, grants, backends) {
                Ok(f) => filters.push(f),
                Err(e) => note(Err(e)),
            }
        }
        let weighted = rule
            .backend_refs
            .iter()
            .map(|b| {
                let backend = match resolve(&b.to, route, objects, grants) {
                    Ok(backend) => {
                        backends.insert(backend.clone());
                        BackendRef::Service(backend)
                    }
                    Err(e) => {
                        note(Err(e));
                        BackendRef::Invalid
                    }
                };
                WeightedBackend {
                    backend,
                    weight: b.weight.unwrap_or(1),
                }
            })
            .collect();
        out.push(Rule {
            matches,
            action: Action {
                filters,
                backends: weighted,
            },
        });
    }
    (out, resolved)
}

fn convert_match(m: &types::HttpRouteMatch) -> Option<Match> {
    let path = match &m.path {
        None => PathMatch::Prefix("/".into()),
        Some(p) => {
            let value = p.value.clone().unwrap_or_else(|| "/".into());
            match p.kind.as_deref().unwrap_or("PathPrefix") {
                "Exact" => PathMatch::Exact(value),
                "PathPrefix" => PathMatch::Prefix(value),
                _ => return None,
            }
        }
    };
    let exact = |v: &types::ValueMatch| v.kind.as_deref().unwrap_or("Exact") == "Exact";
    if !m.headers.iter().all(exact) || !m.query_params.iter().all(exact) {
        return None;
    }
    // Only the first of equivalent names counts (the spec's rule for both).
    let mut header_names = BTreeSet::new();
    let headers = m
        .headers
        .iter()
        .filter(|h| header_names.insert(h.name.to_ascii_lowercase()))
        .map(|h| {
            Some((
                HeaderName::from_bytes(h.name.as_bytes()).ok()?,
                h.value.clone(),
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    let mut query_names = BTreeSet::new();
    let query = m
        .query_params
        .iter()
        .filter(|q| query_names.insert(q.name.clone()))
        .map(|q| (q.name.clone(), q.value.clone()))
        .collect();
    let method = match &m.method {
        Some(s) => Some(Method::from_bytes(s.as_bytes()).ok()?),
        None => None,
    };
    Some(Match {
        path,
        method,
        headers,
        query,
    })
}

fn header_modifier(f: &types::HeaderFilter) -> Result<HeaderModifier, Unresolved> {
    let bad = || {
        (
            "UnsupportedValue",
            "an invalid header name or value in a filter".to_owned(),
        )
    };
    let pairs = |v: &[types::NameValue]| {
        v.iter()
            .map(|nv| {
                Ok((
                    HeaderName::from_bytes(nv.name.as_bytes()).map_err(|_| bad())?,
                    HeaderValue::from_str(&nv.value).map_err(|_| bad())?,
                ))
            })
            .collect::<Result<Vec<_>, Unresolved>>()
    };
    Ok(HeaderModifier {
        set: pairs(&f.set)?,
        add: pairs(&f.add)?,
        remove: f
            .remove
            .iter()
            .map(|n| HeaderName::from_bytes(n.as_bytes()).map_err(|_| bad()))
            .collect::<Result<_, _>>()?,
    })
}

fn path_modifier(p: &types::PathModifier) -> Option<PathModifier> {
    match p.kind.as_str() {
        "ReplaceFullPath" => Some(PathModifier::ReplaceFullPath(p.replace_full_path.clone()?)),
        "ReplacePrefixMatch" => Some(PathModifier::ReplacePrefixMatch(
            p.replace_prefix_match.clone()?,
        )),
        _ => None,
    }
}

fn convert_filter(
    f: &types::HttpRouteFilter,
    route: &Object<HttpRouteSpec>,
    objects: &Objects,
    grants: &[Object<ReferenceGrantSpec>],
    backends: &mut BTreeSet<Backend>,
) -> Result<Filter, Unresolved> {
    let missing = || {
        (
            "UnsupportedValue",
            format!("filter {} without its settings", f.kind),
        )
    };
    match f.kind.as_str() {
        "RequestHeaderModifier" => Ok(Filter::RequestHeaderModifier(header_modifier(
            f.request_header_modifier.as_ref().ok_or_else(missing)?,
        )?)),
        "ResponseHeaderModifier" => Ok(Filter::ResponseHeaderModifier(header_modifier(
            f.response_header_modifier.as_ref().ok_or_else(missing)?,
        )?)),
        "RequestRedirect" => {
            let r = f.request_redirect.as_ref().ok_or_else(missing)?;
            Ok(Filter::RequestRedirect(Redirect {
                scheme: r.scheme.clone(),
                hostname: r.hostname.clone(),
                path: r.path.as_ref().and_then(path_modifier),
                port: r.port,
                status: r.status_code.unwrap_or(302),
            }))
        }
        "URLRewrite" => {
            let r = f.url_rewrite.as_ref().ok_or_else(missing)?;
            Ok(Filter::UrlRewrite(Rewrite {
                hostname: r.hostname.clone(),
                path: r.path.as_ref().and_then(path_modifier),
            }))
        }
        "RequestMirror" => {
            let m = f.request_mirror.as_ref().ok_or_else(missing)?;
            let backend = resolve(&m.backend_ref.to, route, objects, grants)?;
            backends.insert(backend.clone());
            Ok(Filter::RequestMirror(BackendRef::Service(backend)))
        }
        other => Err((
            "UnsupportedValue",
            format!("filter type {other} is not supported"),
        )),
    }
}

/// A backendRef to a Service port, checked: the kind, a ReferenceGrant for another
/// namespace, the Service and its port.
fn resolve(
    to: &types::ObjectRef,
    route: &Object<HttpRouteSpec>,
    objects: &Objects,
    grants: &[Object<ReferenceGrantSpec>],
) -> Result<Backend, Unresolved> {
    if to.group.as_deref().is_some_and(|g| !g.is_empty())
        || to.kind.as_deref().is_some_and(|k| k != "Service")
    {
        return Err((
            "InvalidKind",
            format!("backendRef {} is not a Service", to.name),
        ));
    }
    let ns = to
        .namespace
        .clone()
        .unwrap_or_else(|| route.metadata.namespace.clone());
    if ns != route.metadata.namespace
        && !granted(
            grants,
            "HTTPRoute",
            &route.metadata.namespace,
            "",
            "Service",
            &ns,
            &to.name,
        )
    {
        return Err((
            "RefNotPermitted",
            format!(
                "no ReferenceGrant in {ns} allows a reference to Service {}",
                to.name
            ),
        ));
    }
    let Some(port) = to.port else {
        return Err((
            "UnsupportedValue",
            format!("backendRef {} has no port", to.name),
        ));
    };
    let backend = Backend {
        namespace: ns.clone(),
        service: to.name.clone(),
        port: ServicePort::Number(port),
    };
    let found = objects
        .services
        .get(&(ns.clone(), to.name.clone()))
        .and_then(|s| crate::endpoints::service_port_name(s, &backend.port));
    if found.is_none() {
        return Err((
            "BackendNotFound",
            format!("Service {ns}/{} port {port} not found", to.name),
        ));
    }
    Ok(backend)
}
