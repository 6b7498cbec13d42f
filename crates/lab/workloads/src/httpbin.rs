//! The `kennethreitz/httpbin` and `kong/httpbin` images: the httpbin API on port 80, with
//! its JSON shapes (keys sorted, two-space indents, header names in Title-Case) and its CORS
//! and `Server` headers. Served: `/get`, `/post`, `/put`, `/patch`, `/delete`, `/anything`
//! (and below), `/headers`, `/ip`, `/user-agent`, `/uuid`, `/status/CODE`, `/delay/N` (at
//! most 10 s), `/bytes/N` (at most 100 KiB), and an index page on `/`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Uri};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::args::HttpbinArgs;
use crate::http::{self, Abort, Body};
use crate::{Result, sys};

const WORKLOAD: &str = "httpbin";
const MAX_DELAY: u64 = 10;
const MAX_BYTES: usize = 100 * 1024;

pub async fn run(args: HttpbinArgs) -> Result<i32> {
    let listener = sys::listen_tcp_any(WORKLOAD, args.port).await?;
    let handler = http::handler(|peer, req| async move { Ok(handle(peer, req).await) });
    sys::go_log(&format!("httpbin listening on port {}", args.port));
    let (_stops, stop_rx) = mpsc::unbounded_channel();
    http::serve(vec![listener], handler, stop_rx).await
}

/// What a request carries that the answers echo.
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    origin: String,
    body: Bytes,
}

async fn handle(peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return plain(StatusCode::BAD_REQUEST, "bad request body\n"),
    };
    let seen = Seen {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        origin: peer.ip().to_canonical().to_string(),
        body,
    };
    answer(&seen)
        .await
        .unwrap_or_else(|Abort| plain(StatusCode::NOT_FOUND, NOT_FOUND))
}

const NOT_FOUND: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n\
<title>404 Not Found</title>\n<h1>Not Found</h1>\n\
<p>The requested URL was not found on the server.</p>\n";

const INDEX: &str = "<!DOCTYPE html>\n<html><head><title>httpbin.org</title></head><body>\n\
<h1>httpbin.org</h1>\n<p>A simple HTTP Request &amp; Response Service (podnet's lab \
emulation of the httpbin image).</p>\n<ul>\n<li>/get /post /put /patch /delete /anything</li>\n\
<li>/headers /ip /user-agent /uuid</li>\n<li>/status/:code /delay/:n /bytes/:n</li>\n</ul>\n\
</body></html>\n";

/// The answer to a request; `Err` for a path httpbin does not have.
async fn answer(seen: &Seen) -> Result<Response<Body>, Abort> {
    let path = seen.uri.path();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let (first, rest) = (segments.next().unwrap_or(""), segments.next());
    let method_is =
        |m: Method| seen.method == m || (m == Method::GET && seen.method == Method::HEAD);
    Ok(match (first, rest) {
        ("", None) => {
            let mut resp = plain(StatusCode::OK, INDEX);
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            resp
        }
        ("get", None) if method_is(Method::GET) => json_reply(request_echo(seen, false)),
        ("post", None) if method_is(Method::POST) => json_reply(request_echo(seen, true)),
        ("put", None) if method_is(Method::PUT) => json_reply(request_echo(seen, true)),
        ("patch", None) if method_is(Method::PATCH) => json_reply(request_echo(seen, true)),
        ("delete", None) if method_is(Method::DELETE) => json_reply(request_echo(seen, true)),
        ("get" | "post" | "put" | "patch" | "delete", None) => {
            plain(StatusCode::METHOD_NOT_ALLOWED, "")
        }
        ("anything", _) => {
            let mut echo = request_echo(seen, true);
            echo.insert("method".into(), seen.method.as_str().into());
            json_reply(echo)
        }
        ("headers", None) => json_reply(object([("headers", headers_of(seen))])),
        ("ip", None) => json_reply(object([("origin", seen.origin.clone().into())])),
        ("user-agent", None) => {
            let agent = header(seen, "user-agent");
            json_reply(object([("user-agent", agent.into())]))
        }
        ("uuid", None) => json_reply(object([("uuid", uuid().into())])),
        ("status", Some(code)) => {
            // httpbin picks one of several comma-separated codes; the first is one of them.
            let code = code.split(',').next().and_then(|c| c.parse::<u16>().ok());
            match code.and_then(|c| StatusCode::from_u16(c).ok()) {
                Some(status) => plain(status, ""),
                None => plain(StatusCode::BAD_REQUEST, "Invalid status code\n"),
            }
        }
        ("delay", Some(n)) => {
            let secs = n
                .parse::<f64>()
                .map_err(|_| Abort)?
                .clamp(0.0, MAX_DELAY as f64);
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            json_reply(request_echo(seen, true))
        }
        ("bytes", Some(n)) => {
            let n = n.parse::<usize>().map_err(|_| Abort)?.min(MAX_BYTES);
            let mut resp = Response::new(Full::new(Bytes::from(random_bytes(n))));
            resp.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            with_httpbin_headers(resp)
        }
        _ => return Err(Abort),
    })
}

/// `/get`'s object, and with `with_body` the fields of the methods that carry one.
fn request_echo(seen: &Seen, with_body: bool) -> Map<String, Value> {
    let mut echo = object([
        ("args", multi_map(seen.uri.query().unwrap_or("").as_bytes())),
        ("headers", headers_of(seen)),
        ("origin", seen.origin.clone().into()),
        ("url", url_of(seen).into()),
    ]);
    if with_body {
        let content_type = header(seen, "content-type");
        let is_form = content_type.starts_with("application/x-www-form-urlencoded");
        let form = if is_form {
            multi_map(&seen.body)
        } else {
            json!({})
        };
        let data = if is_form {
            String::new()
        } else {
            String::from_utf8_lossy(&seen.body).into_owned()
        };
        let parsed = serde_json::from_slice::<Value>(&seen.body).unwrap_or(Value::Null);
        echo.insert("data".into(), data.into());
        echo.insert("files".into(), json!({}));
        echo.insert("form".into(), form);
        echo.insert("json".into(), parsed);
    }
    echo
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Query or form pairs: one value as a string, repeated keys as a list (httpbin's shape).
fn multi_map(encoded: &[u8]) -> Value {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(encoded) {
        map.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let object: Map<String, Value> = map
        .into_iter()
        .map(|(k, mut v)| {
            let value = if v.len() == 1 {
                Value::String(v.remove(0))
            } else {
                Value::from(v)
            };
            (k, value)
        })
        .collect();
    Value::Object(object)
}

fn headers_of(seen: &Seen) -> Value {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &seen.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(title_case(name.as_str()))
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    json!(map)
}

/// `user-agent` → `User-Agent`, as httpbin shows header names.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn header(seen: &Seen, name: &str) -> String {
    seen.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn url_of(seen: &Seen) -> String {
    let host = header(seen, "host");
    let path_and_query = seen.uri.path_and_query().map_or("/", |p| p.as_str());
    format!("http://{host}{path_and_query}")
}

fn uuid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0; n];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut buf);
    }
    buf
}

/// httpbin's JSON: pretty, two-space indents, a final newline.
fn json_reply(value: Map<String, Value>) -> Response<Body> {
    let mut text = serde_json::to_string_pretty(&Value::Object(sorted(value))).unwrap_or_default();
    text.push('\n');
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    with_httpbin_headers(resp)
}

/// Keys in sorted order whatever the map keeps (serde_json may preserve insertion order).
fn sorted(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn plain(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = http::text(status, body);
    if body.starts_with('<') {
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    }
    with_httpbin_headers(resp)
}

fn with_httpbin_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert("server", HeaderValue::from_static("gunicorn/19.9.0"));
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Seen {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        Seen {
            method,
            uri: uri.parse().unwrap(),
            headers: map,
            origin: "10.244.1.7".into(),
            body: Bytes::from(body.to_owned()),
        }
    }

    async fn json_of(seen: &Seen) -> (StatusCode, Value) {
        let resp = answer(seen).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn get_echoes_args_headers_origin_and_url() {
        let s = seen(
            Method::GET,
            "/get?a=1&b=2&b=3",
            &[("host", "web"), ("user-agent", "curl/8.5.0")],
            "",
        );
        let (status, v) = json_of(&s).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            v,
            json!({"args": {"a": "1", "b": ["2", "3"]},
                   "headers": {"Host": "web", "User-Agent": "curl/8.5.0"},
                   "origin": "10.244.1.7", "url": "http://web/get?a=1&b=2&b=3"})
        );
    }

    #[tokio::test]
    async fn post_carries_json_and_form_and_anything_adds_the_method() {
        let s = seen(
            Method::POST,
            "/post",
            &[("content-type", "application/json")],
            r#"{"x": 1}"#,
        );
        let (_, v) = json_of(&s).await;
        assert_eq!(v["json"], json!({"x": 1}));
        assert_eq!(v["data"], r#"{"x": 1}"#);
        let s = seen(
            Method::PUT,
            "/anything/deep",
            &[("content-type", "application/x-www-form-urlencoded")],
            "k=v",
        );
        let (_, v) = json_of(&s).await;
        assert_eq!(
            (v["method"].as_str(), &v["form"]),
            (Some("PUT"), &json!({"k": "v"}))
        );
        let (status, _) = json_of(&seen(Method::GET, "/post", &[], "")).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn small_endpoints_answer_in_httpbins_shapes() {
        let (_, v) = json_of(&seen(Method::GET, "/ip", &[], "")).await;
        assert_eq!(v, json!({"origin": "10.244.1.7"}));
        let (_, v) = json_of(&seen(
            Method::GET,
            "/user-agent",
            &[("user-agent", "x")],
            "",
        ))
        .await;
        assert_eq!(v, json!({"user-agent": "x"}));
        let (_, v) = json_of(&seen(Method::GET, "/uuid", &[], "")).await;
        assert_eq!(v["uuid"].as_str().unwrap().len(), 36);
        let (status, _) = json_of(&seen(Method::GET, "/status/418", &[], "")).await;
        assert_eq!(status.as_u16(), 418);
        let resp = answer(&seen(Method::GET, "/bytes/16", &[], ""))
            .await
            .unwrap();
        assert_eq!(
            resp.into_body().collect().await.unwrap().to_bytes().len(),
            16
        );
        let (_, v) = json_of(&seen(Method::GET, "/delay/0", &[("host", "h")], "")).await;
        assert_eq!(v["url"], "http://h/delay/0");
        assert!(answer(&seen(Method::GET, "/nope", &[], "")).await.is_err());
    }

    #[test]
    fn header_names_are_title_case() {
        assert_eq!(title_case("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(title_case("host"), "Host");
    }
}
