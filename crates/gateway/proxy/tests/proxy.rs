//! The proxy against real backends on loopback: routing, headers, endpoint spreading and
//! retries, limits, redirects, HTTP/2, WebSocket-style upgrades, TLS by SNI, and a
//! configuration swap under an open connection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use podnet_gateway_proxy::{Certificates, Config, Listen, Proxy, Settings, certified_key};
use podnet_gateway_router::filter::{Filter, Redirect};
use podnet_gateway_router::host::IngressHost;
use podnet_gateway_router::http_route::{HttpRoute, HttpRoutes, Match, Rule};
use podnet_gateway_router::ingress::{Ingress, IngressRule, IngressTable};
use podnet_gateway_router::path::PathMatch;
use podnet_gateway_router::{
    Action, Backend, BackendRef, RouteId, ServicePort, Table, WeightedBackend,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A backend answering `NAME PATH` with the request's headers echoed as `x-echo-*`; an
/// upgrade request is switched and then echoes bytes.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(move |mut req: Request<Incoming>| async move {
                    if req.headers().contains_key(http::header::UPGRADE) {
                        let upgraded = hyper::upgrade::on(&mut req);
                        tokio::spawn(async move {
                            let mut io = TokioIo::new(upgraded.await.unwrap());
                            let mut buf = [0u8; 64];
                            let n = io.read(&mut buf).await.unwrap();
                            io.write_all(&buf[..n]).await.unwrap();
                        });
                        let resp = Response::builder()
                            .status(StatusCode::SWITCHING_PROTOCOLS)
                            .header("connection", "upgrade")
                            .header("upgrade", "echo")
                            .body(Full::new(Bytes::new()))
                            .unwrap();
                        return Ok::<_, Infallible>(resp);
                    }
                    let mut resp = Response::builder();
                    for (n, v) in req.headers() {
                        resp = resp.header(format!("x-echo-{n}"), v);
                    }
                    let body = format!("{name} {}", req.uri());
                    Ok(resp.body(Full::new(Bytes::from(body))).unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

fn svc(name: &str) -> Backend {
    Backend {
        namespace: "default".into(),
        service: name.into(),
        port: ServicePort::Number(80),
    }
}

fn prefix_to(p: &str, name: &str) -> (PathMatch, Backend) {
    (PathMatch::Prefix(p.into()), svc(name))
}

fn ingress_table(rules: Vec<IngressRule>) -> Table {
    Table {
        ingresses: IngressTable::new(vec![Ingress {
            id: RouteId {
                kind: "Ingress",
                namespace: "default".into(),
                name: "test".into(),
            },
            created: 0,
            rules,
            default_backend: None,
        }]),
        ..Table::default()
    }
}

struct Running {
    addr: SocketAddr,
    tls_addr: SocketAddr,
    config: watch::Sender<Arc<Config>>,
    proxy: Proxy,
    _stop: watch::Sender<bool>,
}

async fn start(config: Config, settings: Settings) -> Running {
    let (tx, rx) = watch::channel(Arc::new(config));
    let (stop_tx, stop) = watch::channel(false);
    let proxy = Proxy::new(rx, settings);
    let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, tls_addr) = (plain.local_addr().unwrap(), tls.local_addr().unwrap());
    for (listener, listen) in [
        (
            plain,
            Listen {
                port: 80,
                tls: false,
            },
        ),
        (
            tls,
            Listen {
                port: 443,
                tls: true,
            },
        ),
    ] {
        let (proxy, stop) = (proxy.clone(), stop.clone());
        tokio::spawn(async move { proxy.serve(listener, listen, stop).await.unwrap() });
    }
    Running {
        addr,
        tls_addr,
        config: tx,
        proxy,
        _stop: stop_tx,
    }
}

/// One request on a new HTTP/1.1 connection: status, headers, body.
async fn get(addr: SocketAddr, host: &str, path: &str) -> Response<String> {
    send(
        addr,
        Request::get(path)
            .header("host", host)
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await
}

async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Response<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    collect(sender.send_request(req).await.unwrap()).await
}

async fn collect(resp: Response<Incoming>) -> Response<String> {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Response::from_parts(parts, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_to_endpoints_with_forwarded_headers_and_404() {
    let (a, b) = (backend("a").await, backend("b").await);
    let config = Config {
        table: ingress_table(vec![IngressRule {
            host: IngressHost::parse(Some("web.example")),
            paths: vec![prefix_to("/", "a"), prefix_to("/b", "b")],
        }]),
        endpoints: HashMap::from([(svc("a"), vec![a]), (svc("b"), vec![b])]),
        ..Config::default()
    };
    let p = start(config, Settings::default()).await;
    let r = get(p.addr, "web.example", "/b/x?q=1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.body(), "b /b/x?q=1");
    assert_eq!(r.headers()["x-echo-x-forwarded-for"], "127.0.0.1");
    assert_eq!(r.headers()["x-echo-x-forwarded-proto"], "http");
    assert_eq!(r.headers()["x-echo-x-forwarded-host"], "web.example");
    assert_eq!(r.headers()["x-echo-host"], "web.example");
    assert_eq!(get(p.addr, "web.example", "/").await.body(), "a /");
    assert_eq!(get(p.addr, "other.example", "/").await.status(), 404);
    let metrics = p.proxy.metrics().render();
    assert!(
        metrics.contains("podnet_gateway_requests_total{route=\"Ingress/default/test\",backend=\"default/b:80\",code=\"200\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreads_over_endpoints_and_retries_a_refused_connect() {
    let (a1, a2) = (backend("a1").await, backend("a2").await);
    // A port nothing listens on: connecting is refused.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let config = Config {
        table: ingress_table(vec![IngressRule {
            host: IngressHost::Any,
            paths: vec![prefix_to("/", "a")],
        }]),
        endpoints: HashMap::from([(svc("a"), vec![a1, dead, a2])]),
        ..Config::default()
    };
    let p = start(config, Settings::default()).await;
    let mut seen = HashMap::new();
    for _ in 0..30 {
        let r = get(p.addr, "x", "/").await;
        assert_eq!(r.status(), 200, "{}", r.body());
        *seen
            .entry(r.body().split(' ').next().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.values().all(|n| *n >= 10), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_redirects_and_unresolved_backends() {
    let a = backend("a").await;
    let route = |name: &str, rules| HttpRoute {
        id: RouteId {
            kind: "HTTPRoute",
            namespace: "default".into(),
            name: name.into(),
        },
        created: 0,
        hostnames: vec![],
        rules,
    };
    let redirect = Rule {
        matches: vec![Match {
            path: PathMatch::Prefix("/old".into()),
            ..Match::any()
        }],
        action: Action {
            filters: vec![Filter::RequestRedirect(Redirect {
                scheme: Some("https".into()),
                hostname: None,
                path: None,
                port: None,
                status: 301,
            })],
            backends: vec![],
        },
    };
    let invalid = Rule {
        matches: vec![Match {
            path: PathMatch::Prefix("/invalid".into()),
            ..Match::any()
        }],
        action: Action {
            filters: vec![],
            backends: vec![WeightedBackend {
                backend: BackendRef::Invalid,
                weight: 1,
            }],
        },
    };
    let rest = Rule {
        matches: vec![Match::any()],
        action: Action {
            filters: vec![],
            backends: vec![WeightedBackend {
                backend: BackendRef::Service(svc("a")),
                weight: 1,
            }],
        },
    };
    let mut table = Table::default();
    table.http_routes.insert(
        80,
        HttpRoutes::new(vec![route("r", vec![redirect, invalid, rest])]),
    );
    let config = Config {
        table,
        endpoints: HashMap::from([(svc("a"), vec![a])]),
        ..Config::default()
    };
    let settings = Settings {
        max_body_bytes: 10,
        ..Settings::default()
    };
    let p = start(config, settings).await;
    let r = get(p.addr, "example.org", "/old/page").await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()["location"], "https://example.org/old/page");
    assert_eq!(get(p.addr, "example.org", "/invalid").await.status(), 500);
    let big = Request::post("/upload")
        .header("host", "example.org")
        .body(Full::new(Bytes::from(vec![b'x'; 100])))
        .unwrap();
    assert_eq!(send(p.addr, big).await.status(), 413);
    let small = Request::post("/upload")
        .header("host", "example.org")
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap();
    assert_eq!(send(p.addr, small).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_upgrades_pass_through() {
    let a = backend("a").await;
    let config = Config {
        table: ingress_table(vec![IngressRule {
            host: IngressHost::Any,
            paths: vec![prefix_to("/", "a")],
        }]),
        endpoints: HashMap::from([(svc("a"), vec![a])]),
        ..Config::default()
    };
    let p = start(config, Settings::default()).await;

    // HTTP/2 with prior knowledge (h2c): the authority routes, the backend gets HTTP/1.1.
    let stream = TcpStream::connect(p.addr).await.unwrap();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("http://h2.example/two")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = collect(h2.send_request(req).await.unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.body(), "a /two");
    assert_eq!(r.headers()["x-echo-host"], "h2.example");

    // An upgrade: 101 from the backend, then bytes both ways.
    let mut raw = TcpStream::connect(p.addr).await.unwrap();
    raw.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        raw.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    raw.write_all(b"ping").await.unwrap();
    let mut echoed = [0u8; 4];
    raw.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_by_sni_and_a_config_swap_keeps_open_connections() {
    let (a, b) = (backend("a").await, backend("b").await);
    let issued = rcgen::generate_simple_self_signed(vec!["secure.example".into()]).unwrap();
    let key = certified_key(
        issued.cert.pem().as_bytes(),
        issued.signing_key.serialize_pem().as_bytes(),
        "test",
    )
    .unwrap();
    let mut certificates = Certificates::default();
    certificates.add("secure.example", key);
    let table = ingress_table(vec![IngressRule {
        host: IngressHost::Any,
        paths: vec![prefix_to("/", "a")],
    }]);
    let endpoints = HashMap::from([(svc("a"), vec![a]), (svc("b"), vec![b])]);
    let p = start(
        Config {
            table,
            endpoints: endpoints.clone(),
            certificates,
            synced: true,
        },
        Settings::default(),
    )
    .await;

    // TLS: the certificate for the SNI name, verified by the client against it.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(issued.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = TcpStream::connect(p.tls_addr).await.unwrap();
    let tls = connector
        .connect("secure.example".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/s")
        .header("host", "secure.example")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = collect(sender.send_request(req).await.unwrap()).await;
    assert_eq!(r.body(), "a /s");
    assert_eq!(r.headers()["x-echo-x-forwarded-proto"], "https");

    // A keep-alive connection opened before a swap carries requests after it, routed by
    // the new table.
    let stream = TcpStream::connect(p.addr).await.unwrap();
    let (mut kept, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = || {
        Request::get("/")
            .header("host", "x")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(
        collect(kept.send_request(req()).await.unwrap())
            .await
            .body(),
        "a /"
    );
    p.config.send_replace(Arc::new(Config {
        table: ingress_table(vec![IngressRule {
            host: IngressHost::Any,
            paths: vec![prefix_to("/", "b")],
        }]),
        endpoints,
        ..Config::default()
    }));
    // hyper's client may still be finishing the first exchange; wait until the same
    // connection can take the next request (an error here would mean the proxy closed it).
    kept.ready().await.unwrap();
    assert_eq!(
        collect(kept.send_request(req()).await.unwrap())
            .await
            .body(),
        "b /"
    );
}
