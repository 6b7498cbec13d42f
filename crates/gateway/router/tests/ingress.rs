//! Ingress v1 routing, table-driven: each case is an Ingress set, a request and the backend
//! (service name) or 404 expected, after the Kubernetes Ingress documentation.

use http::{HeaderMap, Method};
use podnet_gateway_router::host::IngressHost;
use podnet_gateway_router::ingress::{Ingress, IngressRule, IngressTable};
use podnet_gateway_router::path::PathMatch;
use podnet_gateway_router::{Backend, BackendRef, Request, RouteId, ServicePort, Table};

fn backend(service: &str) -> Backend {
    Backend {
        namespace: "default".into(),
        service: service.into(),
        port: ServicePort::Number(80),
    }
}

fn exact(p: &str, svc: &str) -> (PathMatch, Backend) {
    (PathMatch::Exact(p.into()), backend(svc))
}

fn prefix(p: &str, svc: &str) -> (PathMatch, Backend) {
    (PathMatch::Prefix(p.into()), backend(svc))
}

fn rule(host: Option<&str>, paths: Vec<(PathMatch, Backend)>) -> IngressRule {
    IngressRule {
        host: IngressHost::parse(host),
        paths,
    }
}

fn ingress(name: &str, created: i64, rules: Vec<IngressRule>) -> Ingress {
    Ingress {
        id: RouteId {
            kind: "Ingress",
            namespace: "default".into(),
            name: name.into(),
        },
        created,
        rules,
        default_backend: None,
    }
}

/// The service a request to `host` + `path` reaches, or "404".
fn served(ingresses: &[Ingress], host: &str, path: &str) -> String {
    let table = Table {
        ingresses: IngressTable::new(ingresses.to_vec()),
        ..Table::default()
    };
    let headers = HeaderMap::new();
    let req = Request {
        method: &Method::GET,
        host,
        path,
        query: None,
        headers: &headers,
    };
    match table.route(80, &req) {
        None => "404".into(),
        Some(r) => match &r.action.backends[0].backend {
            BackendRef::Service(b) => b.service.clone(),
            BackendRef::Invalid => "invalid".into(),
        },
    }
}

#[test]
fn path_types_and_precedence() {
    let one = |rules| vec![ingress("one", 1, rules)];
    // (ingresses, host, path, expected)
    let cases: Vec<(Vec<Ingress>, &str, &str, &str)> = vec![
        // Prefix `/` matches every path.
        (
            one(vec![rule(None, vec![prefix("/", "root")])]),
            "a",
            "/x/y",
            "root",
        ),
        // Exact is exact: no trailing slash, no deeper path.
        (
            one(vec![rule(None, vec![exact("/foo", "foo")])]),
            "a",
            "/foo",
            "foo",
        ),
        (
            one(vec![rule(None, vec![exact("/foo", "foo")])]),
            "a",
            "/foo/",
            "404",
        ),
        (
            one(vec![rule(None, vec![exact("/foo", "foo")])]),
            "a",
            "/foo/bar",
            "404",
        ),
        // Prefix is element-wise.
        (
            one(vec![rule(None, vec![prefix("/aaa/bbb", "p")])]),
            "a",
            "/aaa/bbbxyz",
            "404",
        ),
        (
            one(vec![rule(None, vec![prefix("/aaa/bbb/", "p")])]),
            "a",
            "/aaa/bbb",
            "p",
        ),
        // The longest matching path wins, whatever the order.
        (
            one(vec![rule(
                None,
                vec![
                    prefix("/", "root"),
                    prefix("/aaa", "aaa"),
                    prefix("/aaa/bbb", "bbb"),
                ],
            )]),
            "a",
            "/aaa/bbb/c",
            "bbb",
        ),
        (
            one(vec![rule(
                None,
                vec![prefix("/aaa/bbb", "bbb"), prefix("/aaa", "aaa")],
            )]),
            "a",
            "/aaa/ccc",
            "aaa",
        ),
        // Exact beats Prefix on a tie of length, listed either way.
        (
            one(vec![rule(
                None,
                vec![prefix("/foo", "pre"), exact("/foo", "exact")],
            )]),
            "a",
            "/foo",
            "exact",
        ),
        (
            one(vec![rule(
                None,
                vec![exact("/foo", "exact"), prefix("/foo", "pre")],
            )]),
            "a",
            "/foo",
            "exact",
        ),
        (
            one(vec![rule(
                None,
                vec![prefix("/foo", "pre"), exact("/foo", "exact")],
            )]),
            "a",
            "/foo/x",
            "pre",
        ),
        // A longer Prefix beats a shorter Exact.
        (
            one(vec![rule(
                None,
                vec![exact("/a", "exact"), prefix("/a/b", "pre")],
            )]),
            "a",
            "/a/b",
            "pre",
        ),
    ];
    for (i, (ings, host, path, want)) in cases.iter().enumerate() {
        assert_eq!(served(ings, host, path), *want, "case {i}: {host}{path}");
    }
}

#[test]
fn hosts_exact_wildcard_and_none() {
    let ings = vec![ingress(
        "hosts",
        1,
        vec![
            rule(Some("foo.bar.com"), vec![prefix("/", "exact-host")]),
            rule(Some("*.bar.com"), vec![prefix("/", "wildcard")]),
            rule(None, vec![prefix("/", "any-host")]),
        ],
    )];
    let cases = [
        ("foo.bar.com", "exact-host"),
        ("baz.bar.com", "wildcard"),
        // One label only: deeper names and the bare domain fall to the host-less rule.
        ("a.baz.bar.com", "any-host"),
        ("bar.com", "any-host"),
        ("other.org", "any-host"),
    ];
    for (host, want) in cases {
        assert_eq!(served(&ings, host, "/"), want, "{host}");
    }
    // Without a host-less rule, an unknown host is 404.
    let only_host = vec![ingress(
        "h",
        1,
        vec![rule(Some("foo.bar.com"), vec![prefix("/", "a")])],
    )];
    assert_eq!(served(&only_host, "other.org", "/"), "404");
}

#[test]
fn a_matching_host_beats_a_longer_path_of_a_host_less_rule() {
    let ings = vec![ingress(
        "mix",
        1,
        vec![
            rule(None, vec![prefix("/api/v1", "any-host")]),
            rule(Some("foo.com"), vec![prefix("/", "foo")]),
        ],
    )];
    assert_eq!(served(&ings, "foo.com", "/api/v1/x"), "foo");
    assert_eq!(served(&ings, "bar.com", "/api/v1/x"), "any-host");
    assert_eq!(served(&ings, "bar.com", "/"), "404");
}

#[test]
fn merged_ingresses_and_default_backends() {
    let mut older = ingress(
        "older",
        10,
        vec![rule(Some("a.com"), vec![prefix("/", "older")])],
    );
    older.default_backend = Some(backend("older-default"));
    let mut newer = ingress(
        "newer",
        20,
        vec![rule(
            Some("a.com"),
            vec![prefix("/", "newer"), prefix("/new", "new-path")],
        )],
    );
    newer.default_backend = Some(backend("newer-default"));
    let ings = vec![newer, older];
    // The same host and path in two Ingresses: the older one wins.
    assert_eq!(served(&ings, "a.com", "/x"), "older");
    // Rules of every Ingress are merged.
    assert_eq!(served(&ings, "a.com", "/new/x"), "new-path");
    // Nothing matches: the oldest Ingress's defaultBackend.
    assert_eq!(served(&ings, "b.com", "/"), "older-default");
    // The same age: namespace/name decides.
    let (a, b) = (
        ingress("a", 5, vec![rule(None, vec![prefix("/", "a")])]),
        ingress("b", 5, vec![rule(None, vec![prefix("/", "b")])]),
    );
    assert_eq!(served(&[b, a], "x", "/"), "a");
}
