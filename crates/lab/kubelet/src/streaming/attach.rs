//! `/attach/{namespace}/{pod}/{container}`: a session on a running container's console
//! (see [`crate::container::console`]): its output from now on, its stdin, its terminal's
//! size. The session ends when the container's output does; the container is left alone
//! when the client leaves, except that `stdinOnce` closes its stdin after the first session
//! that wrote to it. A container without a console is attached to through its log
//! (see [`super::attach_log`]).

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt as _;
use serde_json::json;
use tokio::sync::mpsc;

use super::exec::StreamOptions;
use super::session::{Input, Started, Streams};
use super::{Server, attach_log, channel, lookup, serve_session, text};
use crate::container::console::Console;
use crate::logs::{find_container_log_dir, instance_to_read};

pub(super) async fn attach(
    State(server): State<Arc<Server>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let opts = StreamOptions::parse(parts.uri.query().unwrap_or(""));
    if let Err(missing) = lookup::running(&server.state_dir, &namespace, &pod, &container) {
        return text(StatusCode::NOT_FOUND, missing.to_string());
    }
    let key = format!("{namespace}/{pod}/{container}");
    let Some(console) = server.consoles.lock().unwrap().get(&key).cloned() else {
        return attach_to_log(server, parts, opts, (namespace, pod, container)).await;
    };
    tracing::info!(pod = %format!("{namespace}/{pod}"), %container, stdin = opts.stdin, tty = opts.tty, "attach");
    let session_opts = opts.clone();
    serve_session(parts, opts, move || session(console, &session_opts)).await
}

/// Attach to a container without a console: its output as its log receives it.
async fn attach_to_log(
    server: Arc<Server>,
    parts: axum::http::request::Parts,
    opts: StreamOptions,
    (namespace, pod, container): (String, String, String),
) -> Response {
    let log = find_container_log_dir(&server.state_dir, &namespace, &pod, &container)
        .and_then(|dir| instance_to_read(&dir, false));
    let Some(log) = log else {
        return text(
            StatusCode::NOT_FOUND,
            lookup::Missing::Container(container).to_string(),
        );
    };
    // Opened now, so that the session's output starts at the moment of attaching.
    let started = match attach_log::session(&log, &opts) {
        Ok(started) => started,
        Err(error) => return text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    };
    tracing::info!(pod = %format!("{namespace}/{pod}"), %container, stdin = opts.stdin, log = %log.display(), "attach to the container's log");
    serve_session(parts, opts, move || started).await
}

/// An attached session: it ends with Success when the container's output does; a client
/// leaving closes the container's stdin only with `stdinOnce`.
fn session(console: Arc<Console>, opts: &StreamOptions) -> Started {
    let streams = streams(&console, opts);
    let stdin = streams.stdin.clone();
    let ended = console.clone();
    Started {
        streams,
        done: Box::pin(async move {
            ended.ended().await;
            json!({"metadata": {}, "status": "Success"})
        }),
        abandon: Box::new(move || {
            if let Some(stdin) = stdin
                && console.stdin_once
            {
                let _ = stdin.try_send(Input::Close);
            }
        }),
    }
}

/// The session's view of the console: the outputs asked for, and stdin when asked for
/// (its end reaches the container only with `stdinOnce`).
fn streams(console: &Console, opts: &StreamOptions) -> Streams {
    let (stdout, stderr) = (opts.stdout, opts.stderr);
    let output = console
        .subscribe()
        .filter(move |(ch, _)| {
            std::future::ready(match *ch {
                channel::STDOUT => stdout,
                channel::STDERR => stderr,
                _ => false,
            })
        })
        .boxed();
    let stdin = match (&console.stdin, opts.stdin) {
        (Some(container_stdin), true) => {
            let container_stdin = container_stdin.clone();
            let once = console.stdin_once;
            let (tx, mut rx) = mpsc::channel::<Input>(16);
            tokio::spawn(async move {
                while let Some(input) = rx.recv().await {
                    let close = matches!(input, Input::Close);
                    if close && !once {
                        break;
                    }
                    if container_stdin.send(input).await.is_err() || close {
                        break;
                    }
                }
            });
            Some(tx)
        }
        _ => None,
    };
    Streams {
        output,
        stdin,
        pty: console.pty.clone(),
    }
}
