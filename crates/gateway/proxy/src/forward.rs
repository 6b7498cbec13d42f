//! One request: route it, apply the rule's filters, pick a backend by weight and an
//! endpoint round-robin, forward (retrying a failed connect on the next endpoint when the
//! request can be sent again), and relay the answer — or both directions of an upgraded
//! connection.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, HOST, LOCATION};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::TokioIo;
use podnet_gateway_router::filter::RedirectFrom;
use podnet_gateway_router::host::normalize;
use podnet_gateway_router::{
    Backend, BackendRef, Filter, HeaderModifier, Request as RouteRequest, pick_weighted,
};

use crate::headers::{is_upgrade, set_forwarded, strip_hop_by_hop};
use crate::server::Inner;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Body = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// The connection a request came on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conn {
    pub(crate) peer: SocketAddr,
    /// The listener port routes attach to.
    pub(crate) port: u16,
    pub(crate) scheme: &'static str,
}

/// How many endpoints a request that failed to connect is tried on.
const MAX_ATTEMPTS: usize = 3;

pub(crate) async fn handle(
    inner: &Inner,
    conn: Conn,
    mut req: Request<Incoming>,
) -> Response<Body> {
    let config = inner.config.borrow().clone();
    // HTTP/2 carries the host in :authority, HTTP/1.1 in Host.
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| header_str(req.headers(), HOST).map(str::to_owned))
        .unwrap_or_default();
    let host = normalize(&authority);
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let routed = config.table.route(
        conn.port,
        &RouteRequest {
            method: req.method(),
            host: &host,
            path: &path,
            query: query.as_deref(),
            headers: req.headers(),
        },
    );
    let Some(routed) = routed else {
        inner.metrics.request("", "", 404);
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    let route = routed.route.to_string();

    let mut response_headers: Vec<&HeaderModifier> = Vec::new();
    let mut mirrors: Vec<&BackendRef> = Vec::new();
    let mut upstream_host = None;
    let mut upstream_path = path.clone();
    for filter in &routed.action.filters {
        match filter {
            Filter::RequestHeaderModifier(m) => m.apply(req.headers_mut()),
            Filter::ResponseHeaderModifier(m) => response_headers.push(m),
            Filter::UrlRewrite(rewrite) => {
                if let Some(h) = &rewrite.hostname {
                    upstream_host = Some(h.clone());
                }
                if let Some(p) = &rewrite.path {
                    upstream_path = p.apply(&path, routed.prefix);
                }
            }
            Filter::RequestMirror(b) => mirrors.push(b),
            Filter::RequestRedirect(redirect) => {
                let location = redirect.location(&RedirectFrom {
                    scheme: conn.scheme,
                    host: &host,
                    listener_port: conn.port,
                    path: &path,
                    query: query.as_deref(),
                    prefix: routed.prefix,
                });
                let status = StatusCode::from_u16(redirect.status).unwrap_or(StatusCode::FOUND);
                inner.metrics.request(&route, "", status.as_u16());
                let mut resp = text(status, "");
                if let Ok(v) = HeaderValue::from_str(&location) {
                    resp.headers_mut().insert(LOCATION, v);
                }
                response_headers
                    .iter()
                    .for_each(|m| m.apply(resp.headers_mut()));
                return resp;
            }
        }
    }

    let backend = match pick_weighted(&routed.action.backends, rand::random()) {
        Some(BackendRef::Service(b)) => b,
        _ => {
            inner.metrics.request(&route, "", 500);
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no valid backend for this route\n",
            );
        }
    };
    let backend_name = backend.to_string();
    let endpoints = match config.endpoints.get(backend) {
        Some(e) if !e.is_empty() => e.clone(),
        _ => {
            inner.metrics.request(&route, &backend_name, 503);
            return text(StatusCode::SERVICE_UNAVAILABLE, "no healthy upstream\n");
        }
    };
    let too_large = header_str(req.headers(), CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > inner.settings.max_body_bytes);
    if too_large {
        inner.metrics.request(&route, &backend_name, 413);
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
    }

    // An upgrade (WebSocket) is an HTTP/1.1 affair: keep its headers and take the client's
    // side of the connection once the backend agrees.
    let upgrade = req.version() == Version::HTTP_11 && is_upgrade(req.headers());
    let client_side = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    strip_hop_by_hop(&mut headers, upgrade);
    set_forwarded(&mut headers, conn.peer.ip(), conn.scheme, &authority);
    let host_header = upstream_host.as_deref().unwrap_or(&authority);
    if let Ok(v) = HeaderValue::from_str(host_header) {
        headers.insert(HOST, v);
    }
    let target = match &query {
        Some(q) => format!("{upstream_path}?{q}"),
        None => upstream_path,
    };
    // A request without a body can be sent again; one with a body only once.
    let replayable = body.is_end_stream();
    for mirror in mirrors {
        if let (true, BackendRef::Service(b)) = (replayable, mirror) {
            mirror_to(
                inner,
                &config.endpoints,
                b,
                &parts.method,
                &target,
                &headers,
            );
        }
    }
    let mut body = Some(
        Limited::new(body, inner.settings.max_body_bytes as usize)
            .map_err(BoxError::from)
            .boxed(),
    );

    let attempts = if replayable {
        endpoints.len().min(MAX_ATTEMPTS)
    } else {
        1
    };
    let start = inner.next.fetch_add(1, Relaxed);
    for attempt in 0..attempts {
        let endpoint = endpoints[(start + attempt) % endpoints.len()];
        let mut out = Request::builder()
            .method(parts.method.clone())
            .uri(format!("http://{endpoint}{target}"))
            .version(Version::HTTP_11)
            .body(body.take().unwrap_or_else(empty))
            .expect("a method, an address and a path make a request");
        *out.headers_mut() = headers.clone();
        let sent = Instant::now();
        let answer =
            tokio::time::timeout(inner.settings.request_timeout, inner.client.request(out)).await;
        let mut resp = match answer {
            Err(_) => {
                inner.metrics.request(&route, &backend_name, 504);
                return text(StatusCode::GATEWAY_TIMEOUT, "upstream request timeout\n");
            }
            Ok(Err(error)) if error.is_connect() && attempt + 1 < attempts => {
                tracing::warn!(%route, backend = %backend_name, %endpoint, %error, "connect failed; trying the next endpoint");
                continue;
            }
            Ok(Err(error)) => {
                let status = if too_large_body(&error) {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_GATEWAY
                };
                tracing::warn!(%route, backend = %backend_name, %endpoint, %error, "upstream request failed");
                inner
                    .metrics
                    .request(&route, &backend_name, status.as_u16());
                return text(status, "upstream connect error or disconnect\n");
            }
            Ok(Ok(resp)) => resp,
        };
        inner
            .metrics
            .upstream_latency(&backend_name, sent.elapsed());
        inner
            .metrics
            .request(&route, &backend_name, resp.status().as_u16());
        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        if let (true, Some(client_side)) = (switching, client_side) {
            let upstream_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                match tokio::try_join!(client_side, upstream_side) {
                    Ok((client, upstream)) => {
                        let _ = tokio::io::copy_bidirectional(
                            &mut TokioIo::new(client),
                            &mut TokioIo::new(upstream),
                        )
                        .await;
                    }
                    Err(error) => tracing::debug!(%error, "upgrade failed"),
                }
            });
        }
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers, switching);
        response_headers
            .iter()
            .for_each(|m| m.apply(&mut parts.headers));
        return Response::from_parts(parts, body.map_err(BoxError::from).boxed());
    }
    inner.metrics.request(&route, &backend_name, 503);
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "no endpoint accepted the connection\n",
    )
}

/// Sends a copy of a bodiless request to one endpoint of `backend`, answer dropped.
fn mirror_to(
    inner: &Inner,
    endpoints: &std::collections::HashMap<Backend, Vec<SocketAddr>>,
    backend: &Backend,
    method: &http::Method,
    target: &str,
    headers: &HeaderMap,
) {
    let Some(list) = endpoints.get(backend).filter(|l| !l.is_empty()) else {
        return;
    };
    let endpoint = list[inner.next.fetch_add(1, Relaxed) % list.len()];
    let Ok(mut copy) = Request::builder()
        .method(method.clone())
        .uri(format!("http://{endpoint}{target}"))
        .body(empty())
    else {
        return;
    };
    *copy.headers_mut() = headers.clone();
    let request = inner.client.request(copy);
    tokio::spawn(async move {
        if let Ok(resp) = request.await {
            let _ = resp.into_body().collect().await;
        }
    });
}

fn too_large_body(error: &hyper_util::client::legacy::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn header_str(headers: &HeaderMap, name: http::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn empty() -> Body {
    Empty::new().map_err(BoxError::from).boxed()
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(BoxError::from)
            .boxed(),
    );
    *resp.status_mut() = status;
    if !body.is_empty() {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    resp
}
