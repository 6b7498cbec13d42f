//! Gateway API HTTPRoute matching, table-driven, after the spec's precedence rules and the
//! core conformance tests whose names the cases carry.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use podnet_gateway_router::http_route::{HttpRoute, HttpRoutes, Match, Rule};
use podnet_gateway_router::path::PathMatch;
use podnet_gateway_router::{
    Action, Backend, BackendRef, Request, RouteId, ServicePort, Table, WeightedBackend,
};

fn to(service: &str) -> Action {
    Action {
        filters: Vec::new(),
        backends: vec![WeightedBackend {
            backend: BackendRef::Service(Backend {
                namespace: "gateway-conformance-infra".into(),
                service: service.into(),
                port: ServicePort::Number(8080),
            }),
            weight: 1,
        }],
    }
}

fn route(name: &str, created: i64, hostnames: &[&str], rules: Vec<Rule>) -> HttpRoute {
    HttpRoute {
        id: RouteId {
            kind: "HTTPRoute",
            namespace: "gateway-conformance-infra".into(),
            name: name.into(),
        },
        created,
        hostnames: hostnames.iter().map(|h| (*h).to_owned()).collect(),
        rules,
    }
}

fn rule(matches: Vec<Match>, service: &str) -> Rule {
    Rule {
        matches,
        action: to(service),
    }
}

fn path(m: PathMatch) -> Match {
    Match {
        path: m,
        ..Match::any()
    }
}

fn exact(p: &str) -> Match {
    path(PathMatch::Exact(p.into()))
}

fn prefix(p: &str) -> Match {
    path(PathMatch::Prefix(p.into()))
}

fn headers(m: Match, hs: &[(&str, &str)]) -> Match {
    Match {
        headers: hs
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    (*v).to_owned(),
                )
            })
            .collect(),
        ..m
    }
}

fn query(m: Match, qs: &[(&str, &str)]) -> Match {
    Match {
        query: qs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        ..m
    }
}

fn method(m: Match, method: Method) -> Match {
    Match {
        method: Some(method),
        ..m
    }
}

/// One request: host, method, path with query, headers.
struct Req<'a> {
    host: &'a str,
    method: Method,
    target: &'a str,
    headers: &'a [(&'a str, &'a str)],
}

fn get<'a>(host: &'a str, target: &'a str) -> Req<'a> {
    Req {
        host,
        method: Method::GET,
        target,
        headers: &[],
    }
}

fn served(routes: &[HttpRoute], r: &Req<'_>) -> String {
    let mut table = Table::default();
    table
        .http_routes
        .insert(80, HttpRoutes::new(routes.to_vec()));
    let mut hm = HeaderMap::new();
    for (n, v) in r.headers {
        hm.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    let (path, query) = match r.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (r.target, None),
    };
    let req = Request {
        method: &r.method,
        host: r.host,
        path,
        query,
        headers: &hm,
    };
    match table.route(80, &req) {
        None => "404".into(),
        Some(routed) => match &routed.action.backends[0].backend {
            BackendRef::Service(b) => b.service.clone(),
            BackendRef::Invalid => "invalid".into(),
        },
    }
}

fn check(routes: &[HttpRoute], cases: &[(Req<'_>, &str)]) {
    for (i, (req, want)) in cases.iter().enumerate() {
        assert_eq!(
            served(routes, req),
            *want,
            "case {i}: {} {}{} {:?}",
            req.method,
            req.host,
            req.target,
            req.headers
        );
    }
}

/// Conformance `HTTPRouteMatching`: path and header matches, and their precedence.
#[test]
fn http_route_matching() {
    let routes = [route(
        "matching",
        1,
        &[],
        vec![
            rule(vec![prefix("/")], "infra-backend-v1"),
            rule(
                vec![headers(prefix("/"), &[("version", "two")])],
                "infra-backend-v2",
            ),
            rule(
                vec![headers(prefix("/v2"), &[("version", "two")])],
                "infra-backend-v3",
            ),
            rule(vec![exact("/exact")], "infra-backend-v2"),
        ],
    )];
    check(
        &routes,
        &[
            (get("a", "/"), "infra-backend-v1"),
            (get("a", "/example"), "infra-backend-v1"),
            (get("a", "/exact"), "infra-backend-v2"),
            (get("a", "/exact/"), "infra-backend-v1"),
            (
                Req {
                    headers: &[("version", "two")],
                    ..get("a", "/")
                },
                "infra-backend-v2",
            ),
            (
                Req {
                    headers: &[("Version", "two")],
                    ..get("a", "/v2/x")
                },
                "infra-backend-v3",
            ),
            // Values are case-sensitive.
            (
                Req {
                    headers: &[("version", "Two")],
                    ..get("a", "/v2")
                },
                "infra-backend-v1",
            ),
        ],
    );
}

/// Conformance `HTTPRouteQueryParamMatching`.
#[test]
fn http_route_query_param_matching() {
    let routes = [route(
        "query",
        1,
        &[],
        vec![
            rule(
                vec![query(prefix("/"), &[("animal", "whale")])],
                "infra-backend-v1",
            ),
            rule(
                vec![query(prefix("/"), &[("animal", "dolphin")])],
                "infra-backend-v2",
            ),
            rule(
                vec![query(
                    prefix("/"),
                    &[("animal", "dolphin"), ("color", "blue")],
                )],
                "infra-backend-v3",
            ),
            rule(
                vec![query(prefix("/"), &[("ANIMAL", "Whale")])],
                "infra-backend-v3",
            ),
        ],
    )];
    check(
        &routes,
        &[
            (get("a", "/?animal=whale"), "infra-backend-v1"),
            (get("a", "/?animal=dolphin"), "infra-backend-v2"),
            (get("a", "/?animal=dolphin&color=blue"), "infra-backend-v3"),
            (get("a", "/?color=blue&animal=dolphin"), "infra-backend-v3"),
            (get("a", "/?ANIMAL=Whale"), "infra-backend-v3"),
            (get("a", "/?animal=shark"), "404"),
            (get("a", "/"), "404"),
        ],
    );
}

/// Conformance `HTTPRouteMethodMatching`, and a method match outranking header matches.
#[test]
fn http_route_method_matching() {
    let routes = [route(
        "method",
        1,
        &[],
        vec![
            rule(vec![method(prefix("/"), Method::POST)], "infra-backend-v1"),
            rule(vec![method(prefix("/"), Method::GET)], "infra-backend-v2"),
            rule(
                vec![headers(prefix("/"), &[("x-a", "1"), ("x-b", "2")])],
                "infra-backend-v3",
            ),
        ],
    )];
    let post = Req {
        method: Method::POST,
        ..get("a", "/")
    };
    let head = Req {
        method: Method::HEAD,
        ..get("a", "/")
    };
    check(
        &routes,
        &[
            (post, "infra-backend-v1"),
            (get("a", "/"), "infra-backend-v2"),
            (head, "404"),
            (
                Req {
                    headers: &[("x-a", "1"), ("x-b", "2")],
                    ..get("a", "/")
                },
                "infra-backend-v2",
            ),
            (
                Req {
                    method: Method::PUT,
                    headers: &[("x-a", "1"), ("x-b", "2")],
                    ..get("a", "/")
                },
                "infra-backend-v3",
            ),
        ],
    );
}

/// The spec's order: Exact path, then the longest prefix, then method, headers, query.
#[test]
fn precedence_order_of_the_spec() {
    let routes = [route(
        "precedence",
        1,
        &[],
        vec![
            rule(
                vec![query(
                    headers(method(prefix("/a"), Method::GET), &[("h", "1")]),
                    &[("q", "1")],
                )],
                "all-but-short-path",
            ),
            rule(vec![prefix("/a/b")], "longer-prefix"),
            rule(vec![exact("/a/b/c")], "exact"),
            rule(vec![headers(prefix("/x"), &[("h", "1")])], "one-header"),
            rule(
                vec![query(prefix("/x"), &[("q", "1"), ("r", "2")])],
                "two-query",
            ),
            rule(
                vec![headers(query(prefix("/x"), &[("q", "1")]), &[("h", "1")])],
                "header-and-query",
            ),
        ],
    )];
    let all = Req {
        headers: &[("h", "1")],
        ..get("a", "/a/b/c?q=1")
    };
    check(
        &routes,
        &[
            (all, "exact"),
            (
                Req {
                    headers: &[("h", "1")],
                    ..get("a", "/a/b/d?q=1")
                },
                "longer-prefix",
            ),
            (
                Req {
                    headers: &[("h", "1")],
                    ..get("a", "/a/z?q=1")
                },
                "all-but-short-path",
            ),
            // Headers outrank query parameters.
            (
                Req {
                    headers: &[("h", "1")],
                    ..get("a", "/x?q=1&r=2")
                },
                "header-and-query",
            ),
            (get("a", "/x?q=1&r=2"), "two-query"),
        ],
    );
}

/// Ties across routes: oldest, then namespace/name; within a route, the first rule.
#[test]
fn ties_go_to_the_oldest_route_then_by_name_then_rule_order() {
    let same = |name: &str, created, svc: &str| {
        route(name, created, &[], vec![rule(vec![prefix("/")], svc)])
    };
    check(
        &[same("b", 5, "newer"), same("a", 9, "older")],
        &[(get("h", "/"), "newer")],
    );
    check(
        &[same("b", 5, "b"), same("a", 5, "a")],
        &[(get("h", "/"), "a")],
    );
    let two_rules = [route(
        "r",
        1,
        &[],
        vec![
            rule(vec![prefix("/")], "first"),
            rule(vec![prefix("/")], "second"),
        ],
    )];
    check(&two_rules, &[(get("h", "/"), "first")]);
}

/// Conformance `HTTPRouteHostnameIntersection` / `HTTPRouteListenerHostnameMatching`:
/// a non-wildcard hostname beats a wildcard one, a longer wildcard a shorter one, and a
/// route with hostnames one without, whatever their paths.
#[test]
fn hostname_precedence() {
    let routes = [
        route(
            "any",
            1,
            &[],
            vec![rule(vec![prefix("/s/long/path")], "no-hostname")],
        ),
        route(
            "wild",
            1,
            &["*.example.com"],
            vec![rule(vec![prefix("/s")], "wildcard")],
        ),
        route(
            "wild2",
            1,
            &["*.foo.example.com"],
            vec![rule(vec![prefix("/")], "longer-wildcard")],
        ),
        route(
            "exact",
            1,
            &["bar.example.com"],
            vec![rule(vec![prefix("/")], "exact")],
        ),
    ];
    check(
        &routes,
        &[
            (get("bar.example.com", "/s/long/path"), "exact"),
            (get("baz.example.com", "/s/long/path"), "wildcard"),
            (get("x.foo.example.com", "/s/long/path"), "longer-wildcard"),
            (get("example.com", "/s/long/path"), "no-hostname"),
            (get("other.org", "/s/long/path"), "no-hostname"),
            (get("other.org", "/s"), "404"),
        ],
    );
}
