//! Watch streams: one JSON event per line over a chunked response (or, when the client prefers
//! protobuf, length-prefixed WatchEvent frames), with BOOKMARKs, the initial-events end marker
//! of `sendInitialEvents`, `timeoutSeconds`, and 410 Gone as an ERROR event (as the real API
//! server sends it, so clients relist).

use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use podnet_apiserver_store::{Event, EventType, StoreError, Watch, WatchStart};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Req, Target};
use crate::negotiate::Encoding;
use crate::resources::ResourceType;
use crate::table::{self, IncludeObject};
use crate::{App, crud};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

struct Stream {
    watch: Option<Watch>,
    first: Option<Value>,
    rt: &'static ResourceType,
    as_table: Option<IncludeObject>,
    encoding: Encoding,
    bookmarks: bool,
    initial_end: bool,
    deadline: tokio::time::Instant,
    bookmark: tokio::time::Interval,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

pub fn watch(app: &App, t: &Target, req: &Req) -> Result<Response, ApiError> {
    let filter = crud::filter(t.rt, req)?;
    let rv = req.param("resourceVersion").unwrap_or("");
    let start = match rv {
        "" | "0" => WatchStart::Current,
        n => WatchStart::After(
            n.parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {n:?}")))?,
        ),
    };
    let bookmarks = req.flag("allowWatchBookmarks");
    let send_initial = req.flag("sendInitialEvents");
    let (watch, first) = match app.store.watch(
        &t.rt.store_resource(),
        t.namespace.as_deref(),
        filter,
        if send_initial {
            WatchStart::Current
        } else {
            start
        },
    ) {
        Ok(w) => (Some(w), None),
        Err(e @ StoreError::Expired { .. }) => (None, Some(error_event(ApiError::from(e)))),
        Err(e) => return Err(e.into()),
    };
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|s| s.parse().ok())
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs);
    let as_table =
        table::wants_table(req.accept()).then(|| IncludeObject::parse(req.param("includeObject")));
    // Protobuf frames only for kinds with a protobuf form (tables and custom kinds are JSON).
    let encoding = match req.encoding() {
        Encoding::Protobuf
            if as_table.is_none()
                && podnet_apiserver_proto::message_for(&t.rt.api_version(), t.rt.kind)
                    .is_some() =>
        {
            Encoding::Protobuf
        }
        _ => Encoding::Json,
    };
    let mut bookmark = tokio::time::interval(app.bookmark_interval);
    bookmark.reset();
    let state = Stream {
        watch,
        first,
        rt: t.rt,
        as_table,
        encoding,
        bookmarks,
        initial_end: send_initial && bookmarks,
        deadline: tokio::time::Instant::now() + timeout,
        bookmark,
        shutdown: app.shutdown.clone(),
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        let line = s.next_line().await?;
        Some((Ok::<_, std::convert::Infallible>(line), s))
    });
    let content_type = match encoding {
        Encoding::Protobuf => podnet_apiserver_proto::STREAM_CONTENT_TYPE,
        Encoding::Json => "application/json",
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .expect("static headers are valid"))
}

fn error_event(e: ApiError) -> Value {
    json!({"type": "ERROR", "object": e.status()})
}

/// One event on the wire: a JSON line, or a protobuf frame.
fn line(encoding: Encoding, event: &Value) -> Bytes {
    if encoding == Encoding::Protobuf {
        let frame = |e: &Value| {
            podnet_apiserver_proto::watch_frame(e["type"].as_str().unwrap_or(""), &e["object"])
        };
        match frame(event) {
            Ok(Some(bytes)) => return Bytes::from(bytes),
            // The stream is protobuf already: say so in a Status the client can read.
            Ok(None) | Err(_) => {
                let e = ApiError::Internal(format!(
                    "cannot encode {} as protobuf",
                    event["object"]["kind"].as_str().unwrap_or("the object")
                ));
                if let Ok(Some(bytes)) = frame(&error_event(e)) {
                    return Bytes::from(bytes);
                }
            }
        }
    }
    let mut out = serde_json::to_vec(event).expect("JSON values serialize");
    out.push(b'\n');
    Bytes::from(out)
}

// === impl Stream ===

impl Stream {
    async fn next_line(&mut self) -> Option<Bytes> {
        if let Some(first) = self.first.take() {
            self.watch = None;
            return Some(line(self.encoding, &first));
        }
        let watch = self.watch.as_mut()?;
        if self.initial_end && !watch.initial_pending() {
            self.initial_end = false;
            let rv = watch.resource_version();
            let mut b = self.bookmark_object(rv);
            b["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            return Some(line(
                self.encoding,
                &json!({"type": "BOOKMARK", "object": b}),
            ));
        }
        loop {
            let watch = self.watch.as_mut()?;
            tokio::select! {
                event = watch.next() => {
                    return match event {
                        Ok(e) => Some(line(self.encoding, &self.event(&e))),
                        Err(e) => {
                            self.watch = None;
                            Some(line(self.encoding, &error_event(e.into())))
                        }
                    };
                }
                _ = tokio::time::sleep_until(self.deadline) => return None,
                _ = self.shutdown.changed() => return None,
                _ = self.bookmark.tick() => {
                    if self.bookmarks {
                        let rv = watch.resource_version();
                        let b = self.bookmark_object(rv);
                        return Some(line(self.encoding, &json!({"type": "BOOKMARK", "object": b})));
                    }
                }
            }
        }
    }

    fn bookmark_object(&self, rv: u64) -> Value {
        json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}})
    }

    fn event(&self, e: &Event) -> Value {
        let kind = match e.kind {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        };
        let object = match self.as_table {
            Some(include) => table::table(self.rt, &[&e.object], None, include),
            None => crate::crd::served_as(self.rt, &self.rt.present(&e.object)),
        };
        json!({"type": kind, "object": object})
    }
}
