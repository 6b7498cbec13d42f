//! Gateway API objects → routes and status (pure), named after the conformance tests whose
//! expectations they check.

use podnet_gateway_controller::gateway_api::{StatusPatch, build};
use podnet_gateway_controller::{CONTROLLER_NAME, Objects};
use serde_json::Value;

fn objects(yaml: &str) -> Objects {
    let mut o = Objects::default();
    for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if v.is_null() {
            continue;
        }
        let key = (
            v["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            v["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        match v["kind"].as_str().unwrap() {
            "GatewayClass" => drop(o.gateway_classes.insert(key, v)),
            "Gateway" => drop(o.gateways.insert(key, v)),
            "HTTPRoute" => drop(o.http_routes.insert(key, v)),
            "ReferenceGrant" => drop(o.reference_grants.insert(key, v)),
            "Service" => drop(o.services.insert(key, serde_json::from_value(v).unwrap())),
            other => panic!("{other}"),
        }
    }
    o
}

const BASE: &str = r#"
kind: GatewayClass
metadata: {name: podnet}
spec: {controllerName: podnet.io/gateway}
---
kind: GatewayClass
metadata: {name: someone-else}
spec: {controllerName: example.com/other}
---
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: podnet
  listeners:
  - {name: http, protocol: HTTP, port: 80, hostname: "*.example.com"}
  - {name: all, protocol: HTTP, port: 80, hostname: "all.example.net", allowedRoutes: {namespaces: {from: All}}}
  - {name: tcp, protocol: TCP, port: 9000}
---
kind: Service
apiVersion: v1
metadata: {name: web, namespace: infra}
spec: {ports: [{port: 8080}]}
---
kind: Service
apiVersion: v1
metadata: {name: web, namespace: apps}
spec: {ports: [{port: 8080}]}
"#;

fn status<'a>(built: &'a [StatusPatch], resource: &str, name: &str) -> &'a Value {
    &built
        .iter()
        .find(|p| p.resource == resource && p.name == name)
        .unwrap_or_else(|| panic!("no status for {resource}/{name}: {built:?}"))
        .status
}

fn parent_condition(s: &Value, kind: &str) -> (String, String) {
    let c = s["parents"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap();
    (
        c["status"].as_str().unwrap().into(),
        c["reason"].as_str().unwrap().into(),
    )
}

fn with(extra: &str) -> Objects {
    objects(&format!("{BASE}---\n{extra}"))
}

#[test]
fn gateway_class_and_gateway_status() {
    let built = build(
        &with(
            "kind: HTTPRoute\nmetadata: {name: r, namespace: infra}\nspec: {parentRefs: [{name: gw}]}",
        ),
        CONTROLLER_NAME,
        &["172.18.255.200".into()],
    );
    let class = status(&built.statuses, "gatewayclasses", "podnet");
    assert_eq!(class["conditions"][0]["status"], "True");
    assert!(!built.statuses.iter().any(|p| p.name == "someone-else"));
    let gw = status(&built.statuses, "gateways", "gw");
    assert_eq!(gw["addresses"][0]["value"], "172.18.255.200");
    assert_eq!(gw["conditions"][1]["type"], "Programmed");
    assert_eq!(gw["conditions"][1]["status"], "True");
    // GatewayInvalidListener-like: an unsupported protocol is not accepted.
    let tcp = &gw["listeners"][2];
    assert_eq!(tcp["conditions"][0]["reason"], "UnsupportedProtocol");
    // The route attaches to both HTTP listeners (no hostnames of its own).
    assert_eq!(gw["listeners"][0]["attachedRoutes"], 1);
    assert_eq!(gw["listeners"][1]["attachedRoutes"], 1);
    // Without an address the Gateway is not Programmed.
    let built = build(&with(""), CONTROLLER_NAME, &[]);
    assert_eq!(
        status(&built.statuses, "gateways", "gw")["conditions"][1]["reason"],
        "AddressNotAssigned"
    );
}

/// HTTPRouteInvalidCrossNamespaceBackendRef and HTTPRouteReferenceGrant.
#[test]
fn cross_namespace_backends_need_a_reference_grant() {
    let route = "kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{name: web, namespace: apps, port: 8080}]}]";
    let built = build(&with(route), CONTROLLER_NAME, &[]);
    let s = status(&built.statuses, "httproutes", "r");
    assert_eq!(
        parent_condition(s, "Accepted"),
        ("True".into(), "Accepted".into())
    );
    assert_eq!(
        parent_condition(s, "ResolvedRefs"),
        ("False".into(), "RefNotPermitted".into())
    );
    let grant = "kind: ReferenceGrant
metadata: {name: allow, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: infra}]
  to: [{group: \"\", kind: Service}]";
    let built = build(
        &with(&format!("{route}\n---\n{grant}")),
        CONTROLLER_NAME,
        &[],
    );
    let s = status(&built.statuses, "httproutes", "r");
    assert_eq!(
        parent_condition(s, "ResolvedRefs"),
        ("True".into(), "ResolvedRefs".into())
    );
}

/// HTTPRouteInvalidNonExistentBackendRef, HTTPRouteInvalidBackendRefUnknownKind.
#[test]
fn missing_and_unknown_backends() {
    let route = |backend: &str| {
        format!(
            "kind: HTTPRoute
metadata: {{name: r, namespace: infra}}
spec:
  parentRefs: [{{name: gw}}]
  rules: [{{backendRefs: [{backend}]}}]"
        )
    };
    let built = build(
        &with(&route("{name: nothere, port: 8080}")),
        CONTROLLER_NAME,
        &[],
    );
    assert_eq!(
        parent_condition(status(&built.statuses, "httproutes", "r"), "ResolvedRefs").1,
        "BackendNotFound"
    );
    let built = build(
        &with(&route(
            "{group: unknown.example.com, kind: Foo, name: web, port: 8080}",
        )),
        CONTROLLER_NAME,
        &[],
    );
    assert_eq!(
        parent_condition(status(&built.statuses, "httproutes", "r"), "ResolvedRefs").1,
        "InvalidKind"
    );
}

/// HTTPRouteDisallowedKind / allowedRoutes: a route from another namespace attaches only
/// to the listener allowing All; HTTPRouteHostnameIntersection: without a common hostname
/// it is not accepted.
#[test]
fn allowed_routes_and_hostname_intersection() {
    let from_apps = "kind: HTTPRoute
metadata: {name: r, namespace: apps}
spec:
  parentRefs: [{name: gw, namespace: infra, sectionName: http}]";
    let built = build(&with(from_apps), CONTROLLER_NAME, &[]);
    assert_eq!(
        parent_condition(status(&built.statuses, "httproutes", "r"), "Accepted"),
        ("False".into(), "NotAllowedByListeners".into())
    );
    let other_host = "kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [foo.example.org]";
    let built = build(&with(other_host), CONTROLLER_NAME, &[]);
    assert_eq!(
        parent_condition(status(&built.statuses, "httproutes", "r"), "Accepted"),
        ("False".into(), "NoMatchingListenerHostname".into())
    );
    let narrowed = "kind: HTTPRoute
metadata: {name: r, namespace: infra}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [a.example.com, b.example.org]";
    let built = build(&with(narrowed), CONTROLLER_NAME, &[]);
    let routes = &built.http_routes[&80];
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].hostnames, ["a.example.com"]);
}
