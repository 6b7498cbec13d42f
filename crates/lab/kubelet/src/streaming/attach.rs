//! `/attach/{namespace}/{pod}/{container}`: a session on a running container's console
//! (see [`crate::container::console`]): its output from now on, its stdin, its terminal's
//! size. The session ends when the container's output does; the container is left alone
//! when the client leaves, except that `stdinOnce` closes its stdin after the first session
//! that wrote to it.

use std::sync::Arc;

use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt as _;
use serde_json::json;
use tokio::sync::mpsc;

use super::exec::StreamOptions;
use super::session::{self, Input, Streams};
use super::{Server, channel, lookup, offered_protocol, text};
use crate::container::console::Console;

pub(super) async fn attach(
    State(server): State<Arc<Server>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let opts = StreamOptions::parse(query.as_deref().unwrap_or(""));
    if let Err(missing) = lookup::running(&server.state_dir, &namespace, &pod, &container) {
        return text(StatusCode::NOT_FOUND, missing.to_string());
    }
    let key = format!("{namespace}/{pod}/{container}");
    let Some(console) = server.consoles.lock().unwrap().get(&key).cloned() else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "container {container} of pod {namespace}/{pod} has no console to attach to: \
                 its spec asks for neither stdin nor tty (or this kubelet adopted it after a restart)"
            ),
        );
    };
    let (Ok(upgrade), Some((protocol, name))) = (upgrade, offered_protocol(&headers)) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "unable to upgrade: a WebSocket with one of the subprotocols {} is required",
                channel::PROTOCOLS.join(", ")
            ),
        );
    };
    tracing::info!(pod = %format!("{namespace}/{pod}"), %container, stdin = opts.stdin, tty = opts.tty, "attach");
    upgrade
        .protocols([name])
        .on_upgrade(move |socket| async move {
            let streams = streams(&console, &opts);
            let stdin = streams.stdin.clone();
            let ended = console.clone();
            let done = async move {
                ended.ended().await;
                json!({"metadata": {}, "status": "Success"})
            };
            let abandon = move || {
                if let Some(stdin) = stdin
                    && console.stdin_once
                {
                    let _ = stdin.try_send(Input::Close);
                }
            };
            session::run(socket, protocol, streams, done, abandon).await;
        })
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
