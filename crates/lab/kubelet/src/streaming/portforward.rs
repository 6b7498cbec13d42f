//! `/portForward/{namespace}/{pod}`: client-go's port-forward protocol
//! (`portforward.k8s.io`) over SPDY/3.1 — the client opens an error stream and a data
//! stream per connection, both with the headers `port` and `requestID`; once both are there
//! the kubelet connects to that port on localhost inside the pod's network namespace and
//! copies bytes both ways. The SPDY bytes come over a WebSocket (`SPDY/3.1+portforward.k8s.io`,
//! kubectl's default since 1.31) or a plain SPDY upgrade (older clients); the session only
//! sees bytes in and bytes out.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use futures::{Stream, StreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::spdy::{self, Decoder, Encoder, Frame};

/// The protocol name, in `X-Stream-Protocol-Version` and the WebSocket subprotocol.
pub const PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol of SPDY tunnelled over a WebSocket.
pub const WEBSOCKET_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// Where the forwarded connections go.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// `namespace/name`, for messages.
    pub pod: String,
    /// The pod's network namespace (`/proc/INFRA/ns/net`).
    pub netns: PathBuf,
}

/// One request's two streams, as they arrive.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<(u32, mpsc::Receiver<Vec<u8>>)>,
}

/// Serves one port-forward connection: SPDY bytes from `input`, SPDY bytes to `output`.
pub(crate) async fn serve(
    mut input: impl Stream<Item = Vec<u8>> + Unpin,
    output: mpsc::Sender<Vec<u8>>,
    target: Target,
) {
    let (frames, mut frames_rx) = mpsc::channel::<Frame>(64);
    let writer = tokio::spawn(async move {
        let mut encoder = Encoder::default();
        while let Some(frame) = frames_rx.recv().await {
            if output.send(encoder.encode(&frame)).await.is_err() {
                break;
            }
        }
    });
    let mut decoder = Decoder::default();
    let mut buf = Vec::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut inbound: HashMap<u32, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut forwards = JoinSet::new();
    'session: while let Some(bytes) = input.next().await {
        buf.extend_from_slice(&bytes);
        loop {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    tracing::info!(pod = %target.pod, %error, "port-forward: bad SPDY");
                    break 'session;
                }
            };
            match frame {
                Frame::SynStream {
                    stream_id, headers, ..
                } => {
                    let reply = Frame::SynReply {
                        stream_id,
                        fin: false,
                        headers: Vec::new(),
                    };
                    if frames.send(reply).await.is_err() {
                        break 'session;
                    }
                    let port = spdy::header(&headers, "port").unwrap_or("").to_owned();
                    // Clients before requestID sent one pair at a time: pair them by port.
                    let request = spdy::header(&headers, "requestid")
                        .map_or_else(|| format!("port-{port}"), str::to_owned);
                    let pair = pairs.entry(request.clone()).or_default();
                    match spdy::header(&headers, "streamtype") {
                        Some("error") => pair.error = Some(stream_id),
                        Some("data") => {
                            let (tx, rx) = mpsc::channel(16);
                            inbound.insert(stream_id, tx);
                            pair.data = Some((stream_id, rx));
                        }
                        other => {
                            tracing::info!(pod = %target.pod, stream_type = ?other, "port-forward: unknown stream type");
                            let _ = frames
                                .send(Frame::RstStream {
                                    stream_id,
                                    status: spdy::CANCEL,
                                })
                                .await;
                        }
                    }
                    if let Some((streams, rx)) = take_complete(&mut pairs, &request) {
                        forwards.spawn(forward(target.clone(), port, streams, rx, frames.clone()));
                    }
                }
                Frame::Data {
                    stream_id,
                    fin,
                    data,
                } => {
                    if let Some(tx) = inbound.get(&stream_id)
                        && !data.is_empty()
                    {
                        let _ = tx.send(data).await;
                    }
                    if fin {
                        inbound.remove(&stream_id);
                    }
                }
                Frame::RstStream { stream_id, .. } => {
                    inbound.remove(&stream_id);
                }
                Frame::Ping { id } => {
                    let _ = frames.send(Frame::Ping { id }).await;
                }
                Frame::GoAway { .. } => break 'session,
                Frame::SynReply { .. } | Frame::Ignored => {}
            }
        }
    }
    forwards.abort_all();
    drop(frames);
    let _ = writer.await;
}

/// The request's streams once both its error and data streams are open.
fn take_complete(
    pairs: &mut HashMap<String, Pair>,
    request: &str,
) -> Option<(Streams, mpsc::Receiver<Vec<u8>>)> {
    let pair = pairs.get(request)?;
    if pair.error.is_none() || pair.data.is_none() {
        return None;
    }
    let Pair {
        error: Some(error),
        data: Some((data, rx)),
    } = pairs.remove(request)?
    else {
        return None;
    };
    Some((Streams { data, error }, rx))
}

/// The stream ids of one forwarded connection.
#[derive(Clone, Copy)]
struct Streams {
    data: u32,
    error: u32,
}

/// One forwarded connection: the pod's port, bytes both ways, and the error stream closed
/// (with a message if the port could not be reached).
async fn forward(
    target: Target,
    port: String,
    streams: Streams,
    mut inbound: mpsc::Receiver<Vec<u8>>,
    frames: mpsc::Sender<Frame>,
) {
    let data = |fin: bool, data: Vec<u8>| Frame::Data {
        stream_id: streams.data,
        fin,
        data,
    };
    let error = |message: String| Frame::Data {
        stream_id: streams.error,
        fin: true,
        data: message.into_bytes(),
    };
    let conn = match port.parse::<u16>() {
        Ok(p) if p > 0 => connect(&target, p).await,
        _ => Err(io::Error::other(format!("invalid port {port:?}"))),
    };
    let conn = match conn {
        Ok(conn) => conn,
        Err(e) => {
            tracing::info!(pod = %target.pod, %port, error = %e, "port-forward: connect failed");
            let message = format!(
                "error forwarding port {port} to pod {}: failed to connect to localhost:{port} inside the pod's network namespace: {e}",
                target.pod
            );
            let _ = frames.send(error(message)).await;
            let _ = frames.send(data(true, Vec::new())).await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = conn.into_split();
    let up = async move {
        while let Some(chunk) = inbound.recv().await {
            if to_pod.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = to_pod.shutdown().await;
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if frames.send(data(false, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The pod closed: the client's copy ends, then it waits for the error stream.
        let _ = frames.send(data(true, Vec::new())).await;
        let _ = frames.send(error(String::new())).await;
    };
    tokio::join!(up, down);
}

/// A TCP connection to `port` on localhost inside the pod's network namespace (IPv4, then
/// IPv6), made on a thread that entered it.
async fn connect(target: &Target, port: u16) -> io::Result<TcpStream> {
    let netns = target.netns.clone();
    let std = tokio::task::spawn_blocking(move || {
        podnet_netns::run_in(&netns, || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .or_else(|_| std::net::TcpStream::connect(("::1", port)))
        })
    })
    .await
    .map_err(io::Error::other)?
    .map_err(io::Error::other)??;
    std.set_nonblocking(true)?;
    TcpStream::from_std(std)
}
