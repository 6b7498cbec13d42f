//! netexec's HTTP endpoints, answering as agnhost's handlers do (same bodies, statuses and
//! quirks: `/dial` answers 200 even when every try failed, `/exit?timeout=0` never answers).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use hyper::{Method, Request, Response, StatusCode};
use jiff::Zoned;
use serde_json::{Map, Value};
use tracing::info;

use super::{State, dial, path, shell};
use crate::duration::{go_duration_string, parse_go_duration};
use crate::http::{self, Abort, Body, Stop};
use crate::{go, sys};

/// The query's values, first one per key as Go's `FormValue` returns.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(query: &str) -> Self {
        Self(
            form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(super) fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

pub(super) async fn handle(
    state: Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Body>, Abort> {
    let (method, path, query) = match &state.http_override {
        Some(over) => {
            let (p, q) = over.split_once('?').unwrap_or((over, ""));
            (Method::GET, p.to_owned(), q.to_owned())
        }
        None => (
            req.method().clone(),
            req.uri().path().to_owned(),
            req.uri().query().unwrap_or_default().to_owned(),
        ),
    };
    let clean = path::mux_clean(&path);
    if clean != path {
        let location = if query.is_empty() {
            clean
        } else {
            format!("{clean}?{query}")
        };
        return redirect(StatusCode::MOVED_PERMANENTLY, &method, &location);
    }
    let q = Query::parse(&query);
    Ok(match path.as_str() {
        "/clientip" => {
            info!("GET /clientip");
            http::text(StatusCode::OK, go::addr_string(peer))
        }
        "/header" => header(&q, req.headers()),
        "/dial" => dial::handle(&q).await,
        "/echo" => return echo(&q),
        "/exit" => return exit(&state, &q).await,
        "/healthz" => {
            info!("GET /healthz");
            http::empty(ready_status(&state))
        }
        "/readyz" => readyz(&state),
        "/hostname" | "/hostName" => {
            info!(path, "GET hostname");
            http::text(StatusCode::OK, sys::hostname())
        }
        "/redirect" => {
            let (location, code) = (q.get("location"), q.get("code"));
            info!(%method, location, code, "/redirect");
            let status = match code {
                "" => StatusCode::FOUND,
                c => match c.parse::<u16>() {
                    Ok(n) => StatusCode::from_u16(n).map_err(|_| Abort)?,
                    Err(_) => {
                        return Ok(http::text(
                            StatusCode::OK,
                            format!("argument 'code' must be an integer or empty, got {c:?}\n"),
                        ));
                    }
                },
            };
            return redirect(status, &method, &path::redirect_location(&path, location));
        }
        "/shell" => {
            let cmd = match q.get("shellCommand") {
                "" => q.get("cmd"),
                c => c,
            };
            info!(cmd, "GET /shell");
            http::text(StatusCode::OK, shell::run(cmd).await)
        }
        "/upload" => http::error(
            StatusCode::NOT_IMPLEMENTED,
            "podnet's built-in netexec does not accept uploads",
        ),
        "/shutdown" => {
            info!("GET /shutdown");
            let _ = state.stops.send(Stop::Exit(0));
            return http::never().await;
        }
        _ => {
            info!("GET /");
            let now = go::time_string(&Zoned::now(), state.started.elapsed());
            http::text(StatusCode::OK, format!("NOW: {now}"))
        }
    })
}

fn ready_status(state: &State) -> StatusCode {
    if state.ready.load(Ordering::SeqCst) {
        StatusCode::OK
    } else {
        StatusCode::PRECONDITION_FAILED
    }
}

fn readyz(state: &State) -> Response<Body> {
    info!("GET /readyz");
    if state.terminating.load(Ordering::SeqCst) {
        return http::text(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    match ready_status(state) {
        StatusCode::OK => http::text(StatusCode::OK, "ok"),
        status => http::empty(status),
    }
}

fn echo(q: &Query) -> Result<Response<Body>, Abort> {
    let (msg, code) = (q.get("msg"), q.get("code"));
    info!(msg, code, "GET /echo");
    if code.is_empty() {
        return Ok(http::text(StatusCode::OK, msg.to_owned()));
    }
    let Ok(n) = code.parse::<i64>() else {
        return Ok(http::text(
            StatusCode::OK,
            format!("argument 'code' must be an integer or empty, got {code:?}\n"),
        ));
    };
    // Go sends a 1xx as an interim answer and the body then goes out as 200; a code outside
    // 100-999 makes its handler panic, which drops the connection.
    let status = match n {
        100..=199 => StatusCode::OK,
        200..=999 => StatusCode::from_u16(n as u16).map_err(|_| Abort)?,
        _ => return Err(Abort),
    };
    Ok(http::text(status, msg.to_owned()))
}

async fn exit(state: &State, q: &Query) -> Result<Response<Body>, Abort> {
    let (wait, timeout, code) = (q.get("wait"), q.get("timeout"), q.get("code"));
    info!(code, timeout, wait, "GET /exit");
    let refuse = |message: String| Ok(http::text(StatusCode::OK, message + "\n"));
    let duration = |s: &str| match s {
        "" => Ok(std::time::Duration::ZERO),
        s => parse_go_duration(s),
    };
    let Ok(timeout_d) = duration(timeout) else {
        return refuse(format!(
            "argument 'timeout' must be a valid golang duration or empty, got {timeout:?}"
        ));
    };
    let Ok(wait_d) = duration(wait) else {
        return refuse(format!(
            "argument 'wait' must be a valid golang duration or empty, got {wait:?}"
        ));
    };
    let code_n = match code {
        "" => 0,
        c => match c.parse::<i32>() {
            Ok(n) => n,
            Err(_) => {
                return refuse(format!(
                    "argument 'code' must be an integer [0-127] or empty, got {c:?}"
                ));
            }
        },
    };
    info!(
        wait = %go_duration_string(wait_d),
        timeout = %go_duration_string(timeout_d),
        code = code_n,
        "Will begin shutdown, allowing time for connections to close, then will exit"
    );
    tokio::time::sleep(wait_d).await;
    if timeout_d.is_zero() {
        let _ = state.stops.send(Stop::Exit(code_n));
        return http::never().await;
    }
    let _ = state.stops.send(Stop::Graceful {
        code: code_n,
        timeout: timeout_d,
    });
    Ok(http::empty(StatusCode::OK))
}

fn header(q: &Query, headers: &HeaderMap) -> Response<Body> {
    let key = q.get("key");
    if !key.is_empty() {
        info!(key, "GET /header");
        let value = headers
            .get(key)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        return http::text(StatusCode::OK, value);
    }
    info!("GET /header");
    // Go keeps Host out of the header map and canonicalises names.
    let mut all: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in headers.iter().filter(|(n, _)| n.as_str() != "host") {
        all.entry(canonical_header(name.as_str()))
            .or_default()
            .push(
                String::from_utf8_lossy(value.as_bytes())
                    .into_owned()
                    .into(),
            );
    }
    let object: Map<String, Value> = all.into_iter().map(|(k, v)| (k, Value::Array(v))).collect();
    http::text(StatusCode::OK, go::json(&Value::Object(object)))
}

/// `x-forwarded-for` → `X-Forwarded-For`, as Go's `CanonicalHeaderKey`.
fn canonical_header(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// `http.Redirect`: the Location, and for GET a small HTML body naming the status.
fn redirect(status: StatusCode, method: &Method, location: &str) -> Result<Response<Body>, Abort> {
    let value = HeaderValue::from_str(location).map_err(|_| Abort)?;
    let mut resp = if method == Method::GET {
        let reason = status.canonical_reason().unwrap_or_default();
        http::text(
            status,
            format!("<a href=\"{}\">{reason}</a>.\n\n", html_escape(location)),
        )
    } else {
        http::empty(status)
    };
    if method == Method::GET || method == Method::HEAD {
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    *resp.status_mut() = status;
    resp.headers_mut().insert(LOCATION, value);
    Ok(resp)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_takes_the_first_value_and_decodes_plus() {
        let q = Query::parse("msg=a+b%21&msg=second&code=");
        assert_eq!(q.get("msg"), "a b!");
        assert_eq!(q.get("code"), "");
        assert_eq!(q.get("absent"), "");
    }

    #[test]
    fn header_names_are_canonical() {
        assert_eq!(canonical_header("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(canonical_header("user-agent"), "User-Agent");
    }

    #[test]
    fn echo_codes_follow_go() {
        let status = |code: &str| {
            echo(&Query::parse(&format!("msg=hi&code={code}"))).map(|r| r.status().as_u16())
        };
        assert_eq!(status("404").unwrap(), 404);
        assert_eq!(status("100").unwrap(), 200);
        assert_eq!(status("abc").unwrap(), 200);
        assert!(status("42").is_err(), "Go's handler panics on code 42");
    }
}
