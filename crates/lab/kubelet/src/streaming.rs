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
//! - [`portforward`]: `/portForward` over SPDY/3.1 ([`spdy`]), tunnelled in a WebSocket or
//!   upgraded to directly.
//! - [`logs`] serves `/containerLogs`.

pub(crate) mod attach;
pub(crate) mod channel;
pub(crate) mod exec;
pub(crate) mod logs;
pub(crate) mod lookup;
pub(crate) mod portforward;
pub(crate) mod pty;
pub(crate) mod session;
pub(crate) mod spdy;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket};
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{FromRequestParts as _, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let opts = exec::StreamOptions::parse(query.as_deref().unwrap_or(""));
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
    let (Ok(upgrade), Some((protocol, name))) = (upgrade, offered_protocol(&headers)) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "unable to upgrade: a WebSocket with one of the subprotocols {} is required",
                channel::PROTOCOLS.join(", ")
            ),
        );
    };
    tracing::info!(pod = %format!("{namespace}/{pod}"), %container, command = ?opts.command, tty = opts.tty, "exec");
    upgrade
        .protocols([name])
        .on_upgrade(move |socket| async move {
            match exec::start(&target, &container, &opts) {
                Ok(started) => {
                    let mut child = started.child;
                    let process = started.process;
                    let argv = opts.command.clone();
                    let done = async move {
                        use std::os::unix::process::ExitStatusExt as _;
                        match child.wait().await {
                            Ok(s) => channel::exit_status(&argv, s.code(), s.signal()),
                            Err(e) => channel::internal_error(&e.to_string()),
                        }
                    };
                    // The client is gone: nobody will read the command's output.
                    let abandon = move || {
                        process.signal(nix::sys::signal::Signal::SIGKILL);
                    };
                    session::run(socket, protocol, started.streams, done, abandon).await;
                }
                Err(error) => {
                    tracing::info!(%error, "exec failed to start");
                    let status = channel::internal_error(&error.to_string());
                    session::run(
                        socket,
                        protocol,
                        session::Streams::default(),
                        async { status },
                        || {},
                    )
                    .await;
                }
            }
        })
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
    let upgrade_to = |name: &str| {
        parts
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case(name))
    };
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
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let (true, Some(on_upgrade)) = (upgrade_to("SPDY/3.1"), on_upgrade) else {
        return text(
            StatusCode::BAD_REQUEST,
            "unable to upgrade: missing upgrade headers in request",
        );
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => spdy_upgraded(TokioIo::new(upgraded), target).await,
            Err(error) => tracing::debug!(%error, "port-forward: upgrade"),
        }
    });
    let mut resp = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert(
        "X-Stream-Protocol-Version",
        HeaderValue::from_static(portforward::PROTOCOL),
    );
    resp
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

/// Port-forward's SPDY bytes on a connection upgraded to SPDY/3.1.
async fn spdy_upgraded<T>(io: T, target: portforward::Target)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use tokio::io::AsyncWriteExt as _;
    let (reader, mut writer) = tokio::io::split(io);
    let input = tokio_util::io::ReaderStream::new(reader)
        .take_while(|r| std::future::ready(r.is_ok()))
        .filter_map(|r| async move { r.ok().map(|b| b.to_vec()) });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(32);
    let write = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = writer.shutdown().await;
    });
    portforward::serve(Box::pin(input), tx, target).await;
    let _ = write.await;
}
