//! `/containerLogs/{namespace}/{pod}/{container}`: a container's log through
//! [`crate::logs`]'s reader, with the `PodLogOptions` of the query (`follow`, `previous`,
//! `tailLines`, `sinceSeconds`/`sinceTime`, `timestamps`, `limitBytes`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Server, lookup, text};
use crate::logs::{LogOptions, PodLogQuery, find_container_log_dir, instance_to_read, read_log};

pub(super) async fn container_logs(
    State(server): State<Arc<Server>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    Query(query): Query<PodLogQuery>,
) -> Response {
    let Some(dir) = find_container_log_dir(&server.state_dir, &namespace, &pod, &container) else {
        let missing = match lookup::pod(&server.state_dir, &namespace, &pod) {
            Err(missing) => missing,
            Ok(_) => lookup::Missing::Container(container),
        };
        return text(StatusCode::NOT_FOUND, missing.to_string());
    };
    let Some(file) = instance_to_read(&dir, query.previous) else {
        // The kubelet's words for a container that has not restarted.
        return text(
            StatusCode::BAD_REQUEST,
            format!("previous terminated container {container:?} in pod {pod:?} not found"),
        );
    };
    let options = LogOptions::from_query(&query, jiff::Timestamp::now());
    match read_log(&file, &options) {
        Ok(chunks) => (
            [(header::CONTENT_TYPE, "text/plain")],
            Body::from_stream(chunks),
        )
            .into_response(),
        Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}
