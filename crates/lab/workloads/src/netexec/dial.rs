//! `/dial`: this pod connects to another netexec (`host`, `port`) over HTTP or UDP, `tries`
//! times, and reports `{"responses":[…],"errors":[…]}`. Kubernetes' connectivity tests are
//! built on it, so its JSON and quirks are upstream's: the status is 200 whatever happened,
//! and `responses` is left out when the *last* try failed or answered nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HOST, LOCATION};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::net::{TcpStream, UdpSocket};
use tracing::{debug, info};

use super::path;
use super::routes::Query;
use crate::go;
use crate::http::{self, Body};

/// Upstream's client timeout, per try, for HTTP and for the UDP answer.
const TRY_TIMEOUT: Duration = Duration::from_secs(5);
/// Go's http.Client follows this many redirects.
const MAX_REDIRECTS: usize = 10;

#[derive(Debug, Clone, Copy)]
enum Proto {
    Http,
    Udp,
    Sctp,
}

pub(super) async fn handle(q: &Query) -> hyper::Response<Body> {
    let (host, port, request, protocol, tries) = (
        q.get("host"),
        q.get("port"),
        q.get("request"),
        q.get("protocol"),
        q.get("tries"),
    );
    info!(host, protocol, port, request, tries, "GET /dial");
    let tries: i64 = match tries {
        "" => 1,
        t => match t.parse() {
            Ok(n) => n,
            Err(_) => {
                let msg = format!(
                    "tries parameter is invalid. strconv.Atoi: parsing {t:?}: invalid syntax"
                );
                return http::error(StatusCode::BAD_REQUEST, &msg);
            }
        },
    };
    if request.is_empty() {
        return http::error(
            StatusCode::BAD_REQUEST,
            "request parameter not specified. <nil>",
        );
    }
    let proto = match protocol.to_lowercase().as_str() {
        "" | "http" => Proto::Http,
        "udp" => Proto::Udp,
        "sctp" => Proto::Sctp,
        _ => {
            let msg = format!("unsupported protocol. {protocol}");
            return http::error(StatusCode::BAD_REQUEST, &msg);
        }
    };
    let addr = match resolve(host, port).await {
        Ok(a) => a,
        Err(e) => {
            let msg = format!("host and/or port param are invalid. {e}");
            return http::error(StatusCode::BAD_REQUEST, &msg);
        }
    };

    let mut responses = Vec::new();
    let mut errors = Vec::new();
    let mut last = String::new();
    for _ in 0..tries {
        let result = match proto {
            Proto::Http => dial_http(request, addr).await,
            Proto::Udp => dial_udp(request, addr).await,
            Proto::Sctp => Err(format!(
                "sctp dial failed. err:{}",
                crate::sys::sctp_available().err().map_or_else(
                    || "not provided by podnet".to_owned(),
                    |e| go::errno_text(&e)
                )
            )),
        };
        match result {
            Ok(r) => {
                last = r.clone();
                responses.push(Value::from(r));
            }
            Err(e) => {
                last.clear();
                errors.push(Value::from(e));
            }
        }
    }
    http::text(StatusCode::OK, render(responses, errors, !last.is_empty()))
}

/// The JSON body, keys in Go's (sorted) order.
fn render(responses: Vec<Value>, errors: Vec<Value>, last_answered: bool) -> String {
    let mut out = Map::new();
    if !errors.is_empty() {
        out.insert("errors".to_owned(), Value::Array(errors));
    }
    if last_answered {
        out.insert("responses".to_owned(), Value::Array(responses));
    }
    go::json(&Value::Object(out))
}

/// `net.JoinHostPort` then a lookup, keeping the first address as Go's resolver does.
async fn resolve(host: &str, port: &str) -> Result<SocketAddr, String> {
    let port_n: u16 = port
        .parse()
        .map_err(|_| format!("address {}: invalid port", join_host_port(host, port)))?;
    if host.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port_n));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port_n));
    }
    let mut addrs = tokio::net::lookup_host((host, port_n))
        .await
        .map_err(|e| format!("lookup {host}: {e}"))?
        .collect::<Vec<_>>();
    // Go prefers IPv4 when a name has both.
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("lookup {host}: no such host"))
}

fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

// === http ===

async fn dial_http(request: &str, addr: SocketAddr) -> Result<String, String> {
    let url = format!("http://{}/{request}", go::addr_string(addr));
    match tokio::time::timeout(TRY_TIMEOUT, get_following_redirects(addr, &url)).await {
        Ok(result) => result.map_err(|e| format!("Get {url:?}: {e}")),
        Err(_) => Err(format!(
            "Get {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

async fn get_following_redirects(mut addr: SocketAddr, url: &str) -> Result<String, String> {
    let mut target = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let (status, location, body) = get_once(addr, &target).await?;
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            return Ok(body);
        };
        let uri: Uri = target.parse().map_err(|e| format!("{e}"))?;
        target = if location.starts_with("http://") {
            let next: Uri = location.parse().map_err(|e| format!("{e}"))?;
            let authority = next.authority().ok_or("redirect without a host")?;
            let port = authority.port_u16().unwrap_or(80).to_string();
            let host = authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']');
            addr = resolve(host, &port).await?;
            location
        } else {
            let path = path::redirect_location(uri.path(), &location);
            format!("http://{}{path}", go::addr_string(addr))
        };
        debug!(%target, "following redirect");
    }
    Err(format!("stopped after {MAX_REDIRECTS} redirects"))
}

/// One GET on a fresh connection, as upstream makes a new transport per try.
async fn get_once(
    addr: SocketAddr,
    url: &str,
) -> Result<(StatusCode, Option<String>, String), String> {
    let uri: Uri = url.parse().map_err(|e| format!("parse {url:?}: {e}"))?;
    let stream = TcpStream::connect(addr).await.map_err(|e| {
        format!(
            "dial tcp {}: connect: {}",
            go::addr_string(addr),
            go::errno_text(&e)
        )
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let host = uri
        .authority()
        .map_or_else(String::new, ToString::to_string);
    let req = Request::get(path)
        .header(HOST, host)
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    ))
}

// === udp ===

async fn dial_udp(request: &str, addr: SocketAddr) -> Result<String, String> {
    let any = match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let dial_failed = |e: std::io::Error| {
        format!(
            "udp dial failed. err:dial udp {}: {}",
            go::addr_string(addr),
            go::errno_text(&e)
        )
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0))
        .await
        .map_err(dial_failed)?;
    socket.connect(addr).await.map_err(dial_failed)?;
    let pair = format!(
        "{}->{}",
        socket.local_addr().map(go::addr_string).unwrap_or_default(),
        go::addr_string(addr)
    );
    socket.send(request.as_bytes()).await.map_err(|e| {
        format!(
            "udp connection write failed. err:write udp {pair}: {}",
            go::errno_text(&e)
        )
    })?;
    let mut buf = [0u8; 2048];
    let read = tokio::time::timeout(TRY_TIMEOUT, socket.recv(&mut buf)).await;
    let failed = |why: String| format!("reading from udp connection failed. err:'{why}'");
    match read {
        Ok(Ok(0)) => Err(failed("<nil>".to_owned())),
        Ok(Ok(n)) => Ok(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Ok(Err(e)) => Err(failed(format!(
            "read udp {pair}: read: {}",
            go::errno_text(&e)
        ))),
        Err(_) => Err(failed(format!("read udp {pair}: i/o timeout"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_upstreams_quirks() {
        let ok = || Value::from("pod-a");
        let err = || Value::from("boom");
        assert_eq!(
            render(vec![ok()], vec![], true),
            r#"{"responses":["pod-a"]}"#
        );
        assert_eq!(
            render(vec![ok()], vec![err()], true),
            r#"{"errors":["boom"],"responses":["pod-a"]}"#
        );
        // The last try failed: the earlier response is not reported.
        assert_eq!(
            render(vec![ok()], vec![err()], false),
            r#"{"errors":["boom"]}"#
        );
        assert_eq!(render(vec![], vec![], false), "{}");
    }

    #[test]
    fn host_port_joins_as_go() {
        assert_eq!(join_host_port("fd00::1", "80"), "[fd00::1]:80");
        assert_eq!(join_host_port("10.0.0.1", "80"), "10.0.0.1:80");
    }
}
