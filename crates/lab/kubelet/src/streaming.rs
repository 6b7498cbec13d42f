//! The kubelet's streaming server (the kubelet API on port 10250): what the API server's
//! `pods/exec`, `pods/attach`, `pods/portforward` and `pods/log` are carried to, at the
//! paths upstream's kubelet serves. The protocols live here: exec over WebSocket
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io`), container logs over plain HTTP. It is served
//! over plain HTTP on the node's address, reachable only inside the lab's node network.
//!
//! - [`channel`]: the channel protocol's framing and Status messages (pure).
//! - [`lookup`]: the running container a request names, from the pod records.
//! - [`attach`]: a session on a container's console;
//! - [`exec`]: starting the process; [`session`]: pumping its streams; [`pty`]: terminals.
//! - [`remotecommand`]: exec and attach over SPDY/3.1 for older clients.
//! - [`portforward`]: `/portForward` over SPDY/3.1 ([`spdy`]), tunnelled in a WebSocket or
//!   upgraded to directly.
//! - [`logs`] serves `/containerLogs`.

pub(crate) mod attach;
pub(crate) mod attach_log;
pub(crate) mod channel;
pub(crate) mod exec;
pub(crate) mod logs;
pub(crate) mod lookup;
pub(crate) mod portforward;
pub(crate) mod pty;
pub(crate) mod remotecommand;
pub(crate) mod session;
pub(crate) mod spdy;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::{FromRequestParts as _, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::stream::BoxStream;
use futures::{SinkExt as _, StreamExt as _};
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use crate::container::console::Consoles;
use channel::Protocol;

/// The kubelet's port for its API (`status.daemonEndpoints.kubeletEndpoint.Port`).
pub const DEFAULT_PORT: u16 = 10250;

struct Server {
    state_dir: PathBuf,
    consoles: Consoles,
}

/// Serves the streaming endpoints on `listener` until `cancel`.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state_dir: PathBuf,
    consoles: Consoles,
    cancel: CancellationToken,
) {
    let server = Arc::new(Server {
        state_dir,
        consoles,
    });
    let router = Router::new()
        .route("/exec/{namespace}/{pod}/{container}", get(exec).post(exec))
        .route(
            "/attach/{namespace}/{pod}/{container}",
            get(attach::attach).post(attach::attach),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            get(port_forward).post(port_forward),
        )
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(logs::container_logs),
        )
        .with_state(server);
    tracing::info!(addr = ?listener.local_addr().ok(), "kubelet streaming server listening");
    if let Err(error) = axum::serve(listener, router)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::warn!(%error, "kubelet streaming server stopped");
    }
}

/// Whether the client offers WebSocket subprotocol `name`.
fn offers(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == name)
}

/// The channel protocol the client offers that this server speaks, most preferred first.
fn offered_protocol(headers: &HeaderMap) -> Option<(Protocol, &'static str)> {
    let offered: Vec<&str> = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    channel::PROTOCOLS
        .into_iter()
        .find(|p| offered.contains(p))
        .and_then(|p| Some((Protocol::from_name(p)?, p)))
}

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    (code, body.into()).into_response()
}

async fn exec(
    State(server): State<Arc<Server>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    req: Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let opts = exec::StreamOptions::parse(parts.uri.query().unwrap_or(""));
    if opts.command.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "you must specify at least one command for the container",
        );
    }
    let target = match lookup::running(&server.state_dir, &namespace, &pod, &container) {
        Ok(t) => t,
        Err(missing) => return text(StatusCode::NOT_FOUND, missing.to_string()),
    };
    tracing::info!(pod = %format!("{namespace}/{pod}"), %container, command = ?opts.command, tty = opts.tty, "exec");
    let session_opts = opts.clone();
    serve_session(parts, opts, move || {
        exec::session(&target, &container, &session_opts)
    })
    .await
}

/// Upgrades the connection of an exec or attach and runs its session: over a WebSocket
/// (the channel protocol) or after an `Upgrade: SPDY/3.1` ([`remotecommand`]).
async fn serve_session(
    mut parts: axum::http::request::Parts,
    opts: exec::StreamOptions,
    start: impl FnOnce() -> session::Started + Send + 'static,
) -> Response {
    if upgrade_to(&parts.headers, "SPDY/3.1") {
        let offered = parts
            .headers
            .get_all("X-Stream-Protocol-Version")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == remotecommand::PROTOCOL);
        if !offered {
            return text(
                StatusCode::FORBIDDEN,
                format!(
                    "unable to upgrade: unable to negotiate protocol: server supports [{}]",
                    remotecommand::PROTOCOL
                ),
            );
        }
        return over_spdy(&mut parts, remotecommand::PROTOCOL, move |input, output| {
            remotecommand::serve(input, output, opts, start)
        });
    }
    let Some((protocol, name)) = offered_protocol(&parts.headers) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "unable to upgrade: a WebSocket with one of the subprotocols {} is required",
                channel::PROTOCOLS.join(", ")
            ),
        );
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols([name])
        .on_upgrade(move |socket| async move {
            let started = start();
            session::run(
                socket,
                protocol,
                started.streams,
                started.done,
                started.abandon,
            )
            .await;
        })
}

/// Whether the request asks to upgrade to `name`.
fn upgrade_to(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(name))
}

/// The 101 of an upgrade to SPDY/3.1 speaking `protocol`.
fn switching_to_spdy(protocol: &'static str) -> Response {
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert(
        "X-Stream-Protocol-Version",
        HeaderValue::from_static(protocol),
    );
    resp
}

async fn port_forward(
    State(server): State<Arc<Server>>,
    Path((namespace, pod)): Path<(String, String)>,
    req: Request,
) -> Response {
    let found = match lookup::pod(&server.state_dir, &namespace, &pod) {
        Ok(found) => found,
        Err(missing) => return text(StatusCode::NOT_FOUND, missing.to_string()),
    };
    let target = portforward::Target {
        pod: format!("{namespace}/{pod}"),
        netns: found.ns.infra.ns_path("net"),
    };
    let (mut parts, _) = req.into_parts();
    let upgrade_to = |name: &str| upgrade_to(&parts.headers, name);
    tracing::info!(pod = %target.pod, "port-forward");
    if upgrade_to("websocket") {
        if !offers(&parts.headers, portforward::WEBSOCKET_PROTOCOL) {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "unable to upgrade: the WebSocket subprotocol {} is required",
                    portforward::WEBSOCKET_PROTOCOL
                ),
            );
        }
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        return upgrade
            .protocols([portforward::WEBSOCKET_PROTOCOL])
            .on_upgrade(move |socket| tunnelled(socket, target));
    }
    if !upgrade_to("SPDY/3.1") {
        return missing_upgrade();
    }
    over_spdy(&mut parts, portforward::PROTOCOL, move |input, output| {
        portforward::serve(input, output, target)
    })
}

/// Port-forward's SPDY bytes carried in a WebSocket's binary messages.
async fn tunnelled(socket: WebSocket, target: portforward::Target) {
    let (mut sink, incoming) = socket.split();
    let input = incoming
        .take_while(|m| std::future::ready(m.is_ok()))
        .filter_map(|m| async move {
            match m {
                Ok(Message::Binary(b)) => Some(b.to_vec()),
                _ => None,
            }
        });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(32);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if sink.send(Message::Binary(bytes.into())).await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    portforward::serve(Box::pin(input), tx, target).await;
    let _ = writer.await;
}

fn missing_upgrade() -> Response {
    text(
        StatusCode::BAD_REQUEST,
        "unable to upgrade: missing upgrade headers in request",
    )
}

/// Answers an `Upgrade: SPDY/3.1` request with its 101 and runs `protocol`'s `serve` on the
/// upgraded connection (exec/attach and port-forward alike).
fn over_spdy<F, Fut>(
    parts: &mut axum::http::request::Parts,
    protocol: &'static str,
    serve: F,
) -> Response
where
    F: FnOnce(BoxStream<'static, Vec<u8>>, tokio::sync::mpsc::Sender<Vec<u8>>) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return missing_upgrade();
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => over_upgraded(TokioIo::new(upgraded), serve).await,
            Err(error) => tracing::debug!(%error, protocol, "SPDY upgrade"),
        }
    });
    switching_to_spdy(protocol)
}

/// A protocol's bytes on a connection upgraded to SPDY/3.1: `serve` reads them from a
/// stream and writes them to a channel.
async fn over_upgraded<T, F, Fut>(io: T, serve: F)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    F: FnOnce(BoxStream<'static, Vec<u8>>, tokio::sync::mpsc::Sender<Vec<u8>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use tokio::io::AsyncWriteExt as _;
    let (reader, mut writer) = tokio::io::split(io);
    let input = tokio_util::io::ReaderStream::new(reader)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(|r| async move { r.ok().map(|b| b.to_vec()) })
        .boxed();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(32);
    let write = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    serve(input, tx).await;
    let _ = write.await;
}
