//! The sample apps of the Kubernetes and GKE tutorials, which answer who they are on every
//! path; a signal ends them at once.
//!
//! - `gcr.io/google-samples/hello-app`: `Hello, world!`, its version and the pod's hostname,
//!   on `$PORT` (8080); logs `Server listening on port …` and `Serving request: PATH` as the
//!   image's Go program does.
//! - `kubernetes-bootcamp` (the Kubernetes basics tutorial): `Hello Kubernetes bootcamp! |
//!   Running on: HOSTNAME | v=N` on 8080.
//! - `gcr.io/google-samples/node-hello` (the "Exposing an External IP Address" tutorial):
//!   `Hello Kubernetes!` (no newline) on 8080; logs `Received request for URL: PATH` as the
//!   image's Node.js server does.

use hyper::StatusCode;
use tokio::sync::mpsc;

use crate::args::{BootcampArgs, HelloAppArgs, NodeHelloArgs};
use crate::http;
use crate::{Result, sys};

const WORKLOAD: &str = "hello-app";

pub async fn run(args: HelloAppArgs) -> Result<i32> {
    let listener = sys::listen_tcp_any(WORKLOAD, args.port).await?;
    let version = args.version;
    let handler = http::handler(move |_peer, req| {
        let body = format!(
            "Hello, world!\nVersion: {version}\nHostname: {}\n",
            sys::hostname()
        );
        async move {
            sys::go_log(&format!("Serving request: {}", req.uri().path()));
            Ok(http::text(StatusCode::OK, body))
        }
    });
    sys::go_log(&format!("Server listening on port {}", args.port));
    // Nothing stops it but a signal, which ends the process (Go's default).
    let (_stops, stop_rx) = mpsc::unbounded_channel();
    http::serve(vec![listener], handler, stop_rx).await
}

pub async fn run_bootcamp(args: BootcampArgs) -> Result<i32> {
    let listener = sys::listen_tcp_any("kubernetes-bootcamp", args.port).await?;
    let version = args.version;
    let handler = http::handler(move |_peer, _req| {
        let body = format!(
            "Hello Kubernetes bootcamp! | Running on: {} | v={version}\n",
            sys::hostname()
        );
        async move { Ok(http::text(StatusCode::OK, body)) }
    });
    println!(
        "Kubernetes Bootcamp App Started At: {} | Running On:  {}",
        jiff::Zoned::now(),
        sys::hostname()
    );
    let (_stops, stop_rx) = mpsc::unbounded_channel();
    http::serve(vec![listener], handler, stop_rx).await
}

pub async fn run_node_hello(args: NodeHelloArgs) -> Result<i32> {
    let listener = sys::listen_tcp_any("node-hello", args.port).await?;
    let handler = http::handler(move |_peer, req| async move {
        println!("Received request for URL: {}", req.uri());
        // writeHead(200) then end(text): no Content-Type, as the image's server sends it.
        let body = http::Body::new(hyper::body::Bytes::from_static(b"Hello Kubernetes!"));
        Ok(hyper::Response::new(body))
    });
    let (_stops, stop_rx) = mpsc::unbounded_channel();
    http::serve(vec![listener], handler, stop_rx).await
}

/// The version kubernetes-bootcamp reports for an image tag: `v2` → `2`; others are the
/// first.
pub fn bootcamp_version_of_tag(tag: Option<&str>) -> String {
    tag.and_then(|t| t.strip_prefix('v'))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("1")
        .to_owned()
}

/// The version hello-app reports for an image tag: `1.0` → `1.0.0`; an untagged or
/// non-numeric tag is the first release's.
pub fn version_of_tag(tag: Option<&str>) -> String {
    let numeric = tag.filter(|t| {
        !t.is_empty()
            && t.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    match numeric.map(|t| t.split('.').count()) {
        Some(1) => format!("{}.0.0", numeric.unwrap_or_default()),
        Some(2) => format!("{}.0", numeric.unwrap_or_default()),
        Some(_) => numeric.unwrap_or_default().to_owned(),
        None => "1.0.0".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{bootcamp_version_of_tag, version_of_tag};

    #[test]
    fn tags_become_three_part_versions() {
        assert_eq!(version_of_tag(Some("1.0")), "1.0.0");
        assert_eq!(version_of_tag(Some("2.0")), "2.0.0");
        assert_eq!(version_of_tag(Some("2")), "2.0.0");
        assert_eq!(version_of_tag(Some("1.2.3")), "1.2.3");
        assert_eq!(version_of_tag(Some("latest")), "1.0.0");
        assert_eq!(version_of_tag(None), "1.0.0");
        assert_eq!(bootcamp_version_of_tag(Some("v2")), "2");
        assert_eq!(bootcamp_version_of_tag(Some("latest")), "1");
    }
}
