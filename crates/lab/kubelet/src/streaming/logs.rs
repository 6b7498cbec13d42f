//! `/containerLogs/{namespace}/{pod}/{container}`: a container's log file, and with
//! `follow=true` what is appended to it until the container stops.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt as _;

use super::{Server, lookup, text};
use crate::process::ProcessId;

/// How often a followed log is looked at for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

pub(super) async fn container_logs(
    State(server): State<Arc<Server>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let follow = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .any(|(k, v)| k == "follow" && matches!(&*v, "1" | "true"));
    let found = match lookup::pod(&server.state_dir, &namespace, &pod) {
        Ok(found) => found,
        Err(missing) => return text(StatusCode::NOT_FOUND, missing.to_string()),
    };
    let record = &found.record;
    let path = crate::logs::log_path(&server.state_dir, &namespace, &pod, &record.uid, &container);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => {
            return text(
                StatusCode::NOT_FOUND,
                lookup::Missing::Container(container).to_string(),
            );
        }
    };
    let running = record
        .containers
        .get(&container)
        .and_then(|c| c.process)
        .filter(ProcessId::is_alive);
    let body = match (follow, running) {
        (true, Some(process)) => Body::from_stream(followed(file, process)),
        _ => Body::from_stream(tokio_util::io::ReaderStream::new(file)),
    };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The file's bytes, then what is appended while `process` lives.
fn followed(
    file: tokio::fs::File,
    process: ProcessId,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> {
    futures::stream::unfold(Some(file), move |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match file.read(&mut buf).await {
                Ok(0) if !process.is_alive() => return None,
                Ok(0) => tokio::time::sleep(FOLLOW_POLL).await,
                Ok(n) => {
                    buf.truncate(n);
                    return Some((Ok(buf), Some(file)));
                }
                Err(e) => return Some((Err(e), None)),
            }
        }
    })
}
