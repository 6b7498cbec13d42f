//! The `gcr.io/google-samples/hello-app` image of the Kubernetes and GKE tutorials: on every
//! path, `Hello, world!`, its version and the pod's hostname, on `$PORT` (8080). It logs
//! `Server listening on port …` at start and `Serving request: PATH` per request, as the
//! image's Go program does; SIGTERM ends it at once (the Go default).

use hyper::StatusCode;
use tokio::sync::mpsc;

use crate::args::HelloAppArgs;
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
    use super::version_of_tag;

    #[test]
    fn tags_become_three_part_versions() {
        assert_eq!(version_of_tag(Some("1.0")), "1.0.0");
        assert_eq!(version_of_tag(Some("2.0")), "2.0.0");
        assert_eq!(version_of_tag(Some("2")), "2.0.0");
        assert_eq!(version_of_tag(Some("1.2.3")), "1.2.3");
        assert_eq!(version_of_tag(Some("latest")), "1.0.0");
        assert_eq!(version_of_tag(None), "1.0.0");
    }
}
