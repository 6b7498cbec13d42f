//! Gateway API v1 objects into the router's model and their status (pure): GatewayClasses
//! naming this controller, their Gateways' HTTP/HTTPS listeners (certificates from
//! Secrets), HTTPRoutes attached by parentRefs where the listener allows them, with
//! hostnames intersected, matches, filters and backendRefs resolved (ReferenceGrant for
//! another namespace's Service). Each object gets the conditions the spec defines.

mod convert;
mod status;
pub mod types;

use std::collections::{BTreeMap, BTreeSet};

use podnet_gateway_router::Backend;
use podnet_gateway_router::http_route::HttpRoute;
use serde_json::{Value, json};

use crate::objects::{Key, Objects};
pub use status::{StatusPatch, changed};
use types::{GatewayClassSpec, GatewaySpec, HttpRouteSpec, Object, ReferenceGrantSpec, parse_all};

pub const GROUP: &str = "gateway.networking.k8s.io";

/// What the Gateway API objects add to a configuration.
#[derive(Debug, Default)]
pub struct Built {
    pub http_routes: BTreeMap<u16, Vec<HttpRoute>>,
    pub backends: BTreeSet<Backend>,
    /// (listener hostname or `""`, Secret namespace, Secret name) of HTTPS listeners.
    pub certificates: Vec<(String, String, String)>,
    pub statuses: Vec<StatusPatch>,
}

/// A listener that routes may attach to.
struct Attachable<'a> {
    gateway: &'a Object<GatewaySpec>,
    listener: &'a types::Listener,
}

pub fn build(objects: &Objects, controller: &str, addresses: &[String]) -> Built {
    let mut out = Built::default();
    let classes: Vec<Object<GatewayClassSpec>> =
        parse_all("GatewayClass", &objects.gateway_classes);
    let ours: BTreeSet<&str> = classes
        .iter()
        .filter(|c| c.spec.controller_name == controller)
        .map(|c| c.metadata.name.as_str())
        .collect();
    for class in classes
        .iter()
        .filter(|c| ours.contains(c.metadata.name.as_str()))
    {
        out.statuses.push(StatusPatch::cluster(
            "gatewayclasses",
            &class.metadata.name,
            json!({"conditions": [status::condition("Accepted", true, "Accepted", "podnet gateway serves this class", class.metadata.generation)]}),
        ));
    }
    let grants: Vec<Object<ReferenceGrantSpec>> =
        parse_all("ReferenceGrant", &objects.reference_grants);
    let gateways: Vec<Object<GatewaySpec>> = parse_all::<GatewaySpec>("Gateway", &objects.gateways)
        .into_iter()
        .filter(|g| ours.contains(g.spec.gateway_class_name.as_str()))
        .collect();
    let routes: Vec<Object<HttpRouteSpec>> = parse_all("HTTPRoute", &objects.http_routes);

    let mut attached_counts: BTreeMap<(Key, String), usize> = BTreeMap::new();
    for route in &routes {
        let mut parents = Vec::new();
        for parent in &route.spec.parent_refs {
            let Some(gateway) = gateway_of(&gateways, route, parent) else {
                continue;
            };
            let candidates: Vec<Attachable<'_>> = gateway
                .spec
                .listeners
                .iter()
                .filter(|l| parent.section_name.as_ref().is_none_or(|s| *s == l.name))
                .filter(|l| parent.port.is_none_or(|p| p == l.port))
                .map(|listener| Attachable { gateway, listener })
                .collect();
            let allowed: Vec<&Attachable<'_>> = candidates
                .iter()
                .filter(|a| {
                    convert::listener_supported(a.listener) && allows(a, &route.metadata.namespace)
                })
                .collect();
            let (accepted, reason, message) = if allowed.is_empty() {
                (
                    false,
                    "NotAllowedByListeners",
                    "no listener of the parent allows this route",
                )
            } else {
                (true, "Accepted", "attached")
            };
            let mut hostname_matched = false;
            let (rules, resolved) = convert::rules(route, objects, &grants, &mut out.backends);
            if accepted {
                for a in &allowed {
                    let Some(hostnames) = podnet_gateway_router::host::intersect(
                        a.listener.hostname.as_deref(),
                        &route.spec.hostnames,
                    ) else {
                        continue;
                    };
                    hostname_matched = true;
                    *attached_counts
                        .entry((
                            (
                                a.gateway.metadata.namespace.clone(),
                                a.gateway.metadata.name.clone(),
                            ),
                            a.listener.name.clone(),
                        ))
                        .or_default() += 1;
                    out.http_routes
                        .entry(a.listener.port)
                        .or_default()
                        .push(HttpRoute {
                            id: podnet_gateway_router::RouteId {
                                kind: "HTTPRoute",
                                namespace: route.metadata.namespace.clone(),
                                name: route.metadata.name.clone(),
                            },
                            created: route
                                .metadata
                                .creation_timestamp
                                .as_ref()
                                .map_or(0, |t| t.0.as_second()),
                            hostnames,
                            rules: rules.clone(),
                        });
                }
            }
            let (accepted, reason, message) = if accepted && !hostname_matched {
                (
                    false,
                    "NoMatchingListenerHostname",
                    "no listener hostname intersects the route's hostnames",
                )
            } else {
                (accepted, reason, message)
            };
            let g = route.metadata.generation;
            parents.push(json!({
                "parentRef": parent,
                "controllerName": controller,
                "conditions": [
                    status::condition("Accepted", accepted, reason, message, g),
                    match &resolved {
                        Ok(()) => status::condition("ResolvedRefs", true, "ResolvedRefs", "all references resolved", g),
                        Err((reason, message)) => status::condition("ResolvedRefs", false, reason, message, g),
                    },
                ],
            }));
        }
        if !parents.is_empty() {
            out.statuses.push(StatusPatch::namespaced(
                "httproutes",
                &route.metadata.namespace,
                &route.metadata.name,
                json!({"parents": parents}),
            ));
        }
    }

    for gateway in &gateways {
        let key = (
            gateway.metadata.namespace.clone(),
            gateway.metadata.name.clone(),
        );
        let g = gateway.metadata.generation;
        let mut listeners = Vec::new();
        for l in &gateway.spec.listeners {
            let supported = convert::listener_supported(l);
            let mut refs_ok = true;
            if l.protocol == "HTTPS" {
                for cert in l.tls.iter().flat_map(|t| &t.certificate_refs) {
                    let ns = cert
                        .namespace
                        .clone()
                        .unwrap_or_else(|| gateway.metadata.namespace.clone());
                    let permitted = ns == gateway.metadata.namespace
                        || convert::granted(
                            &grants,
                            "Gateway",
                            &gateway.metadata.namespace,
                            "",
                            "Secret",
                            &ns,
                            &cert.name,
                        );
                    if permitted
                        && objects
                            .secrets
                            .contains_key(&(ns.clone(), cert.name.clone()))
                    {
                        out.certificates.push((
                            l.hostname.clone().unwrap_or_default(),
                            ns,
                            cert.name.clone(),
                        ));
                    } else {
                        refs_ok = false;
                    }
                }
            }
            let attached = attached_counts
                .get(&(key.clone(), l.name.clone()))
                .copied()
                .unwrap_or(0);
            let (accepted_reason, programmed_reason) = if supported {
                ("Accepted", "Programmed")
            } else {
                ("UnsupportedProtocol", "Invalid")
            };
            listeners.push(json!({
                "name": l.name,
                "supportedKinds": if supported { json!([{"group": GROUP, "kind": "HTTPRoute"}]) } else { json!([]) },
                "attachedRoutes": attached,
                "conditions": [
                    status::condition("Accepted", supported, accepted_reason, "", g),
                    status::condition("Programmed", supported && refs_ok, if refs_ok { programmed_reason } else { "Invalid" }, "", g),
                    if refs_ok {
                        status::condition("ResolvedRefs", true, "ResolvedRefs", "", g)
                    } else {
                        status::condition("ResolvedRefs", false, "InvalidCertificateRef", "a certificateRef names a missing or not permitted Secret", g)
                    },
                ],
            }));
        }
        let programmed = !addresses.is_empty();
        out.statuses.push(StatusPatch::namespaced(
            "gateways",
            &gateway.metadata.namespace,
            &gateway.metadata.name,
            json!({
                "addresses": addresses.iter().map(|a| json!({"type": "IPAddress", "value": a})).collect::<Vec<Value>>(),
                "conditions": [
                    status::condition("Accepted", true, "Accepted", "", g),
                    if programmed {
                        status::condition("Programmed", true, "Programmed", "", g)
                    } else {
                        status::condition("Programmed", false, "AddressNotAssigned", "the gateway Service has no LoadBalancer address yet", g)
                    },
                ],
                "listeners": listeners,
            }),
        ));
    }
    out
}

/// The Gateway of ours a parentRef names.
fn gateway_of<'g>(
    gateways: &'g [Object<GatewaySpec>],
    route: &Object<HttpRouteSpec>,
    parent: &types::ObjectRef,
) -> Option<&'g Object<GatewaySpec>> {
    if parent.group.as_deref().is_some_and(|g| g != GROUP)
        || parent.kind.as_deref().is_some_and(|k| k != "Gateway")
    {
        return None;
    }
    let ns = parent
        .namespace
        .as_deref()
        .unwrap_or(&route.metadata.namespace);
    gateways
        .iter()
        .find(|g| g.metadata.namespace == ns && g.metadata.name == parent.name)
}

/// `allowedRoutes.namespaces.from`: Same (the default) or All; Selector is not supported
/// and allows none.
fn allows(a: &Attachable<'_>, route_namespace: &str) -> bool {
    let from = a
        .listener
        .allowed_routes
        .as_ref()
        .and_then(|r| r.namespaces.as_ref())
        .and_then(|n| n.from.as_deref())
        .unwrap_or("Same");
    match from {
        "All" => true,
        "Same" => a.gateway.metadata.namespace == route_namespace,
        _ => false,
    }
}
